/*-------------------------------------------------------------------------
 *
 * kg_hashkey.c
 *		Partition-key hashing (MD5, computed here, over the key's UTF-8
 *		bytes, read as a big-endian unsigned 128-bit integer) and uint128
 *		conversions to and from numeric.
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "common/kg_hashkey.h"
#include "common/kg_md5.h"

/* MD5 of the partition key's UTF-8 bytes as a big-endian integer. */
uint128
kg_partition_key_hash(const char *key, int len)
{
	uint8		digest[16];
	const char *utf8 = key;
	uint128		v = 0;

	if (GetDatabaseEncoding() != PG_UTF8)
	{
		utf8 = (const char *) pg_do_encoding_conversion((unsigned char *) key, len,
														GetDatabaseEncoding(), PG_UTF8);
		if (utf8 != key)
			len = strlen(utf8);
	}
	kg_md5((const uint8 *) utf8, len, digest);
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
