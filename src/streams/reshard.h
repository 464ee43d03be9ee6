/*-------------------------------------------------------------------------
 *
 * reshard.h
 *		Resharding entry points used by the on-demand scaler (reshard.c), and
 *		stream creation (stream_catalog.c) used by kinesis.open_shards.
 *
 * Locking: see reshard.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_RESHARD_H
#define KG_RESHARD_H

#include "datatype/timestamp.h"

extern void kg_reshard_split_half(const char *stream_name, int32 shard_index);
extern void kg_reshard_merge_pair(const char *stream_name, int32 left_index);
struct KgStream;
extern void kg_stream_lock_updating(struct KgStream *s);
extern void kg_stream_create(const char *name, const char *mode, Interval *retention, int shards);

#endif							/* KG_RESHARD_H */
