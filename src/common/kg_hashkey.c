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

#include <math.h>

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "common/kg_hashkey.h"

/*
 * MD5 (RFC 1321) computed here rather than through pg_cryptohash: with
 * OpenSSL every key paid for an EVP init and finalisation, several times
 * the cost of hashing a short key, on every put.  The constants are the
 * RFC's: K[i] = floor(abs(sin(i + 1)) * 2^32), computed once (the
 * regression tests check digests against md5()).
 */
static uint32 md5_k[64];
static bool md5_k_ready = false;

static const uint8 md5_r[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21
};

#define KG_ROTL32(x, c) (((x) << (c)) | ((x) >> (32 - (c))))

/* One 64-byte block into the state h[4]. */
static void
kg_md5_block(uint32 *h, const uint8 *p)
{
	uint32		w[16];
	uint32		a = h[0],
				b = h[1],
				c = h[2],
				d = h[3];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32) p[i * 4] | ((uint32) p[i * 4 + 1] << 8) |
			((uint32) p[i * 4 + 2] << 16) | ((uint32) p[i * 4 + 3] << 24);
	for (int i = 0; i < 64; i++)
	{
		uint32		f;
		int			g;
		uint32		t;

		if (i < 16)
		{
			f = (b & c) | (~b & d);
			g = i;
		}
		else if (i < 32)
		{
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
		}
		else if (i < 48)
		{
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
		}
		else
		{
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
		}
		t = d;
		d = c;
		c = b;
		f = f + a + md5_k[i] + w[g];
		b = b + KG_ROTL32(f, md5_r[i]);
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

/* MD5 digest of len bytes. */
static void
kg_md5(const uint8 *data, size_t len, uint8 *digest)
{
	uint32		h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
	uint8		tail[128];
	size_t		full = len & ~(size_t) 63;
	size_t		rest = len - full;
	size_t		tlen;
	uint64		bits = (uint64) len * 8;

	if (!md5_k_ready)
	{
		for (int i = 0; i < 64; i++)
			md5_k[i] = (uint32) floor(fabs(sin((double) (i + 1))) * 4294967296.0);
		md5_k_ready = true;
	}
	for (size_t off = 0; off < full; off += 64)
		kg_md5_block(h, data + off);
	/* padding: 0x80, zeros, the length in bits (little-endian) */
	memcpy(tail, data + full, rest);
	tail[rest] = 0x80;
	tlen = rest + 1 + 8 <= 64 ? 64 : 128;
	memset(tail + rest + 1, 0, tlen - rest - 1 - 8);
	for (int i = 0; i < 8; i++)
		tail[tlen - 8 + i] = (uint8) (bits >> (8 * i));
	kg_md5_block(h, tail);
	if (tlen == 128)
		kg_md5_block(h, tail + 64);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			digest[i * 4 + j] = (uint8) (h[i] >> (8 * j));
}

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
