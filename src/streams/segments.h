/*-------------------------------------------------------------------------
 *
 * segments.h
 *		Record segments: the partitions of a stream's record table, each
 *		holding a fixed range of counters, created ahead of need by the
 *		worker and (later) expired whole.
 *
 * Locking: creating a segment takes AccessExclusiveLock on the stream's
 * record table (CREATE TABLE ... PARTITION OF); puts and reads lock only
 * the segments, never the record table, so they do not wait for it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_SEGMENTS_H
#define KG_SEGMENTS_H

#include "streams/stream_cache.h"

extern bool kg_create_segment(int32 stream_id, Oid record_table, int64 segment_capacity,
							  int64 segment_no, bool opened, bool nowait);
extern void kg_segment_upkeep(void);

typedef struct KgStreamIdList
{
	List	   *ids;			/* out: stream ids, in TopMemoryContext */
	bool		on_demand_only;
} KgStreamIdList;
extern void kg_list_stream_ids(void *arg);
extern Oid	kg_segment_relid_wait(KgStream *s, int64 segment_no);

#endif							/* KG_SEGMENTS_H */
