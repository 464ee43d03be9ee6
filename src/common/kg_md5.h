/*-------------------------------------------------------------------------
 *
 * kg_md5.h
 *		MD5 (RFC 1321) of a partition key, inline, for the put paths of
 *		kinesis_glue (kg_hashkey.c) and of kinesis_glue_cluster's proxy,
 *		which must route a key exactly as the node that stores it hashes it.
 *
 * Computed here rather than through pg_cryptohash: with OpenSSL every key
 * paid for an EVP init and finalisation, several times the cost of
 * hashing a short key, once per record of every put.
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_MD5_H
#define KG_MD5_H

/*
 * The 64 steps are written out with the RFC's constants (K[i] =
 * floor(abs(sin(i + 1)) * 2^32), shifts and message word order), so that
 * each is a handful of instructions without a table or a branch: about
 * 700 instructions a block, against 1,750 for a loop that picks the round
 * function, word and shift in every step (the regression tests check
 * digests against md5(), the cluster's that each record lands on the
 * shard whose range holds its MD5 hash key).
 */
#define KG_ROTL32(x, c) (((x) << (c)) | ((x) >> (32 - (c))))

/* the four round functions (F and G in their two-operation forms) */
#define KG_MD5_ROUND_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define KG_MD5_ROUND_G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define KG_MD5_ROUND_H(x, y, z) ((x) ^ (y) ^ (z))
#define KG_MD5_ROUND_I(x, y, z) ((y) ^ ((x) | ~(z)))

/* one step: a = b + ((a + f(b, c, d) + word + constant) <<< shift) */
#define KG_MD5_STEP(f, a, b, c, d, word, constant, shift) \
	do { \
		(a) += KG_MD5_ROUND_##f((b), (c), (d)) + (word) + (uint32) (constant); \
		(a) = KG_ROTL32((a), (shift)) + (b); \
	} while (0)

/* One 64-byte block into the state h[4]. */
static inline void
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

	KG_MD5_STEP(F, a, b, c, d, w[0], 0xd76aa478, 7);
	KG_MD5_STEP(F, d, a, b, c, w[1], 0xe8c7b756, 12);
	KG_MD5_STEP(F, c, d, a, b, w[2], 0x242070db, 17);
	KG_MD5_STEP(F, b, c, d, a, w[3], 0xc1bdceee, 22);
	KG_MD5_STEP(F, a, b, c, d, w[4], 0xf57c0faf, 7);
	KG_MD5_STEP(F, d, a, b, c, w[5], 0x4787c62a, 12);
	KG_MD5_STEP(F, c, d, a, b, w[6], 0xa8304613, 17);
	KG_MD5_STEP(F, b, c, d, a, w[7], 0xfd469501, 22);
	KG_MD5_STEP(F, a, b, c, d, w[8], 0x698098d8, 7);
	KG_MD5_STEP(F, d, a, b, c, w[9], 0x8b44f7af, 12);
	KG_MD5_STEP(F, c, d, a, b, w[10], 0xffff5bb1, 17);
	KG_MD5_STEP(F, b, c, d, a, w[11], 0x895cd7be, 22);
	KG_MD5_STEP(F, a, b, c, d, w[12], 0x6b901122, 7);
	KG_MD5_STEP(F, d, a, b, c, w[13], 0xfd987193, 12);
	KG_MD5_STEP(F, c, d, a, b, w[14], 0xa679438e, 17);
	KG_MD5_STEP(F, b, c, d, a, w[15], 0x49b40821, 22);

	KG_MD5_STEP(G, a, b, c, d, w[1], 0xf61e2562, 5);
	KG_MD5_STEP(G, d, a, b, c, w[6], 0xc040b340, 9);
	KG_MD5_STEP(G, c, d, a, b, w[11], 0x265e5a51, 14);
	KG_MD5_STEP(G, b, c, d, a, w[0], 0xe9b6c7aa, 20);
	KG_MD5_STEP(G, a, b, c, d, w[5], 0xd62f105d, 5);
	KG_MD5_STEP(G, d, a, b, c, w[10], 0x02441453, 9);
	KG_MD5_STEP(G, c, d, a, b, w[15], 0xd8a1e681, 14);
	KG_MD5_STEP(G, b, c, d, a, w[4], 0xe7d3fbc8, 20);
	KG_MD5_STEP(G, a, b, c, d, w[9], 0x21e1cde6, 5);
	KG_MD5_STEP(G, d, a, b, c, w[14], 0xc33707d6, 9);
	KG_MD5_STEP(G, c, d, a, b, w[3], 0xf4d50d87, 14);
	KG_MD5_STEP(G, b, c, d, a, w[8], 0x455a14ed, 20);
	KG_MD5_STEP(G, a, b, c, d, w[13], 0xa9e3e905, 5);
	KG_MD5_STEP(G, d, a, b, c, w[2], 0xfcefa3f8, 9);
	KG_MD5_STEP(G, c, d, a, b, w[7], 0x676f02d9, 14);
	KG_MD5_STEP(G, b, c, d, a, w[12], 0x8d2a4c8a, 20);

	KG_MD5_STEP(H, a, b, c, d, w[5], 0xfffa3942, 4);
	KG_MD5_STEP(H, d, a, b, c, w[8], 0x8771f681, 11);
	KG_MD5_STEP(H, c, d, a, b, w[11], 0x6d9d6122, 16);
	KG_MD5_STEP(H, b, c, d, a, w[14], 0xfde5380c, 23);
	KG_MD5_STEP(H, a, b, c, d, w[1], 0xa4beea44, 4);
	KG_MD5_STEP(H, d, a, b, c, w[4], 0x4bdecfa9, 11);
	KG_MD5_STEP(H, c, d, a, b, w[7], 0xf6bb4b60, 16);
	KG_MD5_STEP(H, b, c, d, a, w[10], 0xbebfbc70, 23);
	KG_MD5_STEP(H, a, b, c, d, w[13], 0x289b7ec6, 4);
	KG_MD5_STEP(H, d, a, b, c, w[0], 0xeaa127fa, 11);
	KG_MD5_STEP(H, c, d, a, b, w[3], 0xd4ef3085, 16);
	KG_MD5_STEP(H, b, c, d, a, w[6], 0x04881d05, 23);
	KG_MD5_STEP(H, a, b, c, d, w[9], 0xd9d4d039, 4);
	KG_MD5_STEP(H, d, a, b, c, w[12], 0xe6db99e5, 11);
	KG_MD5_STEP(H, c, d, a, b, w[15], 0x1fa27cf8, 16);
	KG_MD5_STEP(H, b, c, d, a, w[2], 0xc4ac5665, 23);

	KG_MD5_STEP(I, a, b, c, d, w[0], 0xf4292244, 6);
	KG_MD5_STEP(I, d, a, b, c, w[7], 0x432aff97, 10);
	KG_MD5_STEP(I, c, d, a, b, w[14], 0xab9423a7, 15);
	KG_MD5_STEP(I, b, c, d, a, w[5], 0xfc93a039, 21);
	KG_MD5_STEP(I, a, b, c, d, w[12], 0x655b59c3, 6);
	KG_MD5_STEP(I, d, a, b, c, w[3], 0x8f0ccc92, 10);
	KG_MD5_STEP(I, c, d, a, b, w[10], 0xffeff47d, 15);
	KG_MD5_STEP(I, b, c, d, a, w[1], 0x85845dd1, 21);
	KG_MD5_STEP(I, a, b, c, d, w[8], 0x6fa87e4f, 6);
	KG_MD5_STEP(I, d, a, b, c, w[15], 0xfe2ce6e0, 10);
	KG_MD5_STEP(I, c, d, a, b, w[6], 0xa3014314, 15);
	KG_MD5_STEP(I, b, c, d, a, w[13], 0x4e0811a1, 21);
	KG_MD5_STEP(I, a, b, c, d, w[4], 0xf7537e82, 6);
	KG_MD5_STEP(I, d, a, b, c, w[11], 0xbd3af235, 10);
	KG_MD5_STEP(I, c, d, a, b, w[2], 0x2ad7d2bb, 15);
	KG_MD5_STEP(I, b, c, d, a, w[9], 0xeb86d391, 21);

	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

/* MD5 digest of len bytes. */
static inline void
kg_md5(const uint8 *data, size_t len, uint8 *digest)
{
	uint32		h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
	uint8		tail[128];
	size_t		full = len & ~(size_t) 63;
	size_t		rest = len - full;
	size_t		tlen;
	uint64		bits = (uint64) len * 8;

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

#endif							/* KG_MD5_H */
