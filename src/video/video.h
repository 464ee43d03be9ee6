/*-------------------------------------------------------------------------
 *
 * video.h
 *		Kinesis Video Streams inside PostgreSQL: the C parts.  The SQL
 *		surface is in video.sql (streams, ingest), video_read.sql (get_media,
 *		list_fragments, clips, HLS playlists) and video_processors.sql.
 *
 * C owns what SQL cannot do safely: creating and dropping a stream's
 * storage as the extension owner (video_catalog.c), taking fragment
 * numbers in commit order and inserting fragments behind the guard that
 * refuses direct DML (video_put.c), waking live readers at commit
 * (video_state.c) and the worker tasks (video_worker.c).
 *
 * Locking: a put holds the stream's object lock (KG_VIDEO_STREAM_LOCK) in
 * ExclusiveLock mode until its transaction ends, so fragment numbers of a
 * stream commit in increasing order; delete_stream takes the same lock.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_VIDEO_H
#define KG_VIDEO_H

#include "storage/lock.h"

/* KVS limits (reference C.7) */
#define KG_VIDEO_MAX_FRAGMENT_BYTES (50 * 1024 * 1024)
#define KG_VIDEO_MIN_FRAGMENT_MS 1000
#define KG_VIDEO_MAX_FRAGMENT_MS 20000
#define KG_VIDEO_MAX_METADATA 10
#define KG_VIDEO_MAX_RETENTION_HOURS 87600

/* video_state.c */
extern Size kg_video_shmem_size(void);
extern void kg_video_shmem_init(void);
extern void kg_video_init_backend(void);
extern void kg_video_note_put(int32 stream_id, bool wake_worker);
extern int	kg_video_put_depth;
extern Oid	kg_video_streams_relid(void);
extern void kg_video_lock_stream(int32 stream_id);

/* video_worker.c */
extern void kg_video_segment_upkeep(void);
extern void kg_video_processors(void);
extern PGDLLEXPORT void kg_video_processor_main(Datum main_arg);

/* video_init.c: registration and settings */
extern void kg_video_init(void);

/* video_owners.c: for DROP/REASSIGN OWNED and DROP ROLE */
struct KgOwnedObjects;
extern const struct KgOwnedObjects kg_video_owned;
extern int	kg_video_segment_interval_s;
extern int	kg_video_buffer_retention_s;

#endif							/* KG_VIDEO_H */
