/*-------------------------------------------------------------------------
 *
 * kg_hashkey.h
 *		128-bit hash keys: partition key -> MD5 -> unsigned 128-bit integer,
 *		and conversions between uint128 and numeric.
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_HASHKEY_H
#define KG_HASHKEY_H

#include "fmgr.h"

#ifndef HAVE_INT128
#error "kinesis_glue needs a compiler with 128-bit integers"
#endif

#define KG_HASH_MAX (~(uint128) 0)

extern uint128 kg_partition_key_hash(const char *key, int len);
extern bool kg_numeric_to_u128(Datum num, uint128 *out);
extern char *kg_hash_key_digits(Datum num);
extern char *kg_u128_to_cstring(uint128 v);
extern uint128 kg_hash_step(int n);
extern Datum kg_u128_to_numeric(uint128 v);
extern bool kg_cstring_to_u128(const char *s, uint128 *out);

#endif							/* KG_HASHKEY_H */
