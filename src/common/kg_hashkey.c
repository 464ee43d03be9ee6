/*-------------------------------------------------------------------------
 *
 * kg_hashkey.c
 *		Partition-key hashing (PostgreSQL's own MD5 over the key's UTF-8
 *		bytes, read as a big-endian unsigned 128-bit integer) and uint128
 *		conversions to and from numeric.
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/md5.h"
#include "utils/resowner.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "common/kg_hashkey.h"

/*
 * One MD5 context per backend, reused for every key: creating and freeing
 * a context per key (pg_md5_binary) cost more than hashing a short key.  It
 * is remembered by a resource owner of its own, which lives as long as the
 * backend, so transaction ends do not free it.
 */
static pg_cryptohash_ctx *md5_ctx = NULL;

static pg_cryptohash_ctx *
kg_md5_context(void)
{
	if (md5_ctx == NULL)
	{
		static ResourceOwner md5_owner = NULL;
		ResourceOwner save = CurrentResourceOwner;

		if (md5_owner == NULL)
			md5_owner = ResourceOwnerCreate(NULL, "kinesis_glue md5");
		CurrentResourceOwner = md5_owner;
		md5_ctx = pg_cryptohash_create(PG_MD5);
		CurrentResourceOwner = save;
		if (md5_ctx == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
	}
	return md5_ctx;
}

/* MD5 of the partition key's UTF-8 bytes as a big-endian integer. */
uint128
kg_partition_key_hash(const char *key, int len)
{
	uint8		digest[16];
	const char *utf8 = key;
	uint128		v = 0;
	pg_cryptohash_ctx *ctx = kg_md5_context();

	if (GetDatabaseEncoding() != PG_UTF8)
	{
		utf8 = (const char *) pg_do_encoding_conversion((unsigned char *) key, len,
														GetDatabaseEncoding(), PG_UTF8);
		if (utf8 != key)
			len = strlen(utf8);
	}
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) utf8, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute MD5 of a partition key: %s", pg_cryptohash_error(ctx))));
	for (int i = 0; i < 16; i++)
		v = (v << 8) | digest[i];
	return v;
}

/* Parse an unsigned decimal integer into a uint128; false on overflow or junk. */
bool
kg_cstring_to_u128(const char *s, uint128 *out)
{
	uint128		v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++)
	{
		uint128		next;

		if (*s < '0' || *s > '9')
			return false;
		next = v * 10 + (uint128) (*s - '0');
		if (v > KG_HASH_MAX / 10 || next < v * 10)
			return false;
		v = next;
	}
	*out = v;
	return true;
}

/*
 * The decimal digits of a numeric hash key, when it matches Kinesis's
 * pattern 0|([1-9]\d{0,38}) (a zero fraction such as "5.00" is accepted);
 * NULL when it does not (negative, fractional, NaN, over 39 digits).
 * The value may still be above 2^128 - 1.
 */
char *
kg_hash_key_digits(Datum num)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, num));
	char	   *dot = strchr(s, '.');
	size_t		len;

	if (dot)
	{
		for (char *p = dot + 1; *p; p++)
			if (*p != '0')
				return NULL;
		*dot = '\0';
	}
	len = strlen(s);
	if (len < 1 || len > 39 || (len > 1 && s[0] == '0'))
		return NULL;
	for (char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return NULL;
	return s;
}

/*
 * numeric -> uint128; false unless the value is an integer in
 * [0, 2^128 - 1].
 */
bool
kg_numeric_to_u128(Datum num, uint128 *out)
{
	char	   *s = kg_hash_key_digits(num);

	return s != NULL && kg_cstring_to_u128(s, out);
}

/* floor(2^128 / n), for n >= 2: the width of n equal hash key ranges. */
uint128
kg_hash_step(int n)
{
	uint128		q = KG_HASH_MAX / (uint128) n;

	Assert(n >= 2);
	if (KG_HASH_MAX % (uint128) n == (uint128) (n - 1))
		q++;
	return q;
}

char *
kg_u128_to_cstring(uint128 v)
{
	char		buf[48];
	int			i = sizeof(buf) - 1;

	buf[i] = '\0';
	do
	{
		buf[--i] = '0' + (int) (v % 10);
		v /= 10;
	} while (v != 0);
	return pstrdup(&buf[i]);
}

Datum
kg_u128_to_numeric(uint128 v)
{
	return DirectFunctionCall3(numeric_in, CStringGetDatum(kg_u128_to_cstring(v)),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}
