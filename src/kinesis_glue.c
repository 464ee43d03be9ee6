/*-------------------------------------------------------------------------
 *
 * kinesis_glue.c
 *		Module entry point: sets up the runtime, then lets each component
 *		register with it.  Nothing else lives here; each component has its
 *		own folder (see src/README.md).
 *
 * The runtime (common/ and worker/) names no component.  Each component's
 * init function defines its own settings and registers its shared memory
 * (kg_shmem_register), worker tasks (kg_worker_register_task), protected
 * storage (kg_guard_protect_storage) and transaction callbacks; its runner
 * kinds (KgRunnerKind) travel with the calls it makes to the runner
 * registry.  Only this file knows the list of components.
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "common/kg_catalog.h"
#include "common/kg_guc.h"
#include "common/kg_owner_call.h"
#include "common/kg_shmem.h"
#include "firehose/firehose.h"
#include "glue/glue.h"
#include "streams/streams.h"
#include "video/video.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Module load.  Settings, callbacks and registrations happen in every
 * process that loads the library; shared memory, the hooks of the worker
 * and the launcher only when loaded through shared_preload_libraries.
 */
void
_PG_init(void)
{
	/* the runtime */
	kg_define_common_settings();
	kg_runner_init_hooks();
	kg_catalog_init_backend();
	kg_owner_call_init();

	/* the components, in dependency order (their tasks run in this order) */
	kg_streams_init();
	kg_firehose_init();
	kg_glue_init();
	kg_video_init();

	MarkGUCPrefixReserved("kinesis_glue");

	if (!process_shared_preload_libraries_in_progress)
		return;

	kg_shmem_init_hooks();
	kg_utility_init_hook();

	/* pg_upgrade must not see workers writing to the new cluster */
	if (IsBinaryUpgrade)
		return;
	kg_register_launcher();
}
