/*-------------------------------------------------------------------------
 *
 * kc_section.h
 *		The section of a cluster put_records batch that the proxy sends to
 *		one node (kinesis_glue_cluster.c writes it, kinesis_glue_node.c reads
 *		it): one byte string, so that PL/Proxy sends no per-record arrays
 *		(it sends every argument as text) and the node needs no numeric hash
 *		keys.  It travels in base64 (common/base64.h, without line breaks),
 *		the sections of all nodes of a batch one after the other in one text.
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

#endif							/* KC_SECTION_H */
