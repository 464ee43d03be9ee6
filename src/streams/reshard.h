/*-------------------------------------------------------------------------
 *
 * reshard.h
 *		Resharding entry points used by the on-demand scaler (reshard.c).
 *
 * Locking: see reshard.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_RESHARD_H
#define KG_RESHARD_H

extern void kg_reshard_split_half(const char *stream_name, int32 shard_index);
extern void kg_reshard_merge_pair(const char *stream_name, int32 left_index);

#endif							/* KG_RESHARD_H */
