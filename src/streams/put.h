/*-------------------------------------------------------------------------
 *
 * put.h
 *		The put path of data streams (put.c).
 *
 * Locking: see put.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_PUT_H
#define KG_PUT_H

#include "common/kg_hashkey.h"

typedef struct KgPutInput
{
	const char *pk;				/* partition key bytes (server encoding) */
	int			pklen;
	bytea	   *data;			/* detoasted (maybe short-header) */
	bool		ehk_given;
	bool		ehk_ok;
	uint128		ehk;
	char	   *ehk_text;		/* for the error message */
	uint128		hash;			/* filled by kg_put */
} KgPutInput;

typedef struct KgPutResult
{
	int32		shard_index;
	int64		sequence_number;
	bool		throttled;		/* refused by the shard's write quota */
} KgPutResult;

extern void kg_put(const char *stream_name, KgPutInput *in, int n, KgPutResult *out,
				   int64 sequence_number_for_ordering);
extern void kg_put_set_explicit_hash_key(KgPutInput *in, Datum num, bool isnull);

#endif							/* KG_PUT_H */
