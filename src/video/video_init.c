/*-------------------------------------------------------------------------
 *
 * video_init.c
 *		The Video Streams component's registration with the runtime: its
 *		settings, shared memory, worker tasks (fragment segment upkeep,
 *		stream processor runners), the storage the DDL guard protects and
 *		its transaction callbacks.
 *
 * Locking: none; runs in _PG_init.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "common/kg_shmem.h"
#include "video/video.h"
#include "worker/kg_worker.h"

int			kg_video_segment_interval_s = 3600;
int			kg_video_buffer_retention_s = 300;

static const KgShmemPart video_part = {
	"kinesis_glue video streams", kg_video_shmem_size, kg_video_shmem_init, 0
};

static const KgTask segment_task = {"video segment upkeep", NULL, kg_video_segment_upkeep};
static const KgTask processor_task = {"video stream processors", NULL, kg_video_processors};

static const char *const storage_schemas[] = {"kinesis_video_media", "kinesis_video_segments", NULL};
static const KgProtectedStorage fragment_storage = {
	storage_schemas, "fragment storage", "video stream",
	"Use kinesis_video.delete_stream() and the other kinesis_video functions; GRANT and REVOKE work as usual.",
	"kinesis_video", "_forbid_direct_dml"
};

/* Register Video Streams with the runtime (from _PG_init). */
void
kg_video_init(void)
{
	DefineCustomIntVariable("kinesis_glue.video_segment_interval",
							"Longest time range of one fragment segment of a video stream.",
							"A stream's segments span at most a quarter of its data retention, so expiry drops whole segments soon after they pass it.",
							&kg_video_segment_interval_s, 3600, 1, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.video_buffer_retention",
							"How long a video stream with a data retention of 0 keeps its fragments.",
							NULL, &kg_video_buffer_retention_s, 300, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	kg_video_init_backend();
	kg_shmem_register(&video_part);
	kg_worker_register_task(&segment_task);
	kg_worker_register_task(&processor_task);
	kg_guard_protect_storage(&fragment_storage);
	kg_owned_register(&kg_video_owned);
}
