/*-------------------------------------------------------------------------
 *
 * kc_section.h
 *		The section of a cluster put_records batch that the proxy sends to
 *		one node (kinesis_glue_cluster.c writes it, kinesis_glue_node.c reads
 *		it): one byte string, so that PL/Proxy sends no per-record arrays
 *		(it sends every argument as text) and the node needs no numeric hash
 *		keys.  It travels in hex (kc_hex_encode / kc_hex_decode: table driven,
 *		without the per-character whitespace and error branches of
 *		PostgreSQL's hex and base64 decoders, which cost a node 7 to 9% of
 *		its CPU), the sections of all nodes of a batch one after the other
 *		in one text.
 *
 * Layout, integers in network byte order (libpq/pqformat.h):
 *		int32 KC_SECTION_MAGIC, int32 count, then count records of
 *		int32 ord (1-based position in the caller's batch),
 *		int64 high and int64 low half of the node's local hash key,
 *		int32 length and the UTF-8 bytes of the partition key,
 *		int32 length and the bytes of the data.
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KC_SECTION_H
#define KC_SECTION_H

/* "KGC1": a node built from another version of this format refuses the section */
#define KC_SECTION_MAGIC 0x4B474331

/* Hex of len bytes of src into dst (2 * len characters, lower case). */
static inline void
kc_hex_encode(const char *src, int len, char *dst)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) src[i];

		dst[2 * i] = digits[c >> 4];
		dst[2 * i + 1] = digits[c & 15];
	}
}

/*
 * The len / 2 bytes of the hex digits src[0 .. len - 1] into dst; false when
 * len is odd or a character is not a hex digit.
 */
static inline bool
kc_hex_decode(const char *src, int len, char *dst)
{
	static signed char val[256];
	static bool ready = false;
	int			bad = 0;

	if (!ready)
	{
		for (int c = 0; c < 256; c++)
			val[c] = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		ready = true;
	}
	if (len % 2 != 0)
		return false;
	for (int i = 0; i < len / 2; i++)
	{
		int			hi = val[(unsigned char) src[2 * i]];
		int			lo = val[(unsigned char) src[2 * i + 1]];

		bad |= hi | lo;
		dst[i] = (char) ((hi << 4) | lo);
	}
	return bad >= 0;
}

#endif							/* KC_SECTION_H */
