/*-------------------------------------------------------------------------
 *
 * kg_catalog.h
 *		Running our own fixed SQL against the extension's catalog tables:
 *		as the extension owner, with search_path pinned.
 *
 * SQL functions check the caller's privileges first (they are SECURITY
 * INVOKER), then use these helpers to write catalog tables that callers
 * cannot write themselves, as CREATE TABLE writes pg_class.  Only fixed
 * statements with bound parameters run here; never user text.
 *
 * Every place that switches user (keep this list and README "Security
 * model / Functions that switch user" in step):
 *
 * 1. kg_catalog_enter: to the extension owner, search_path pinned, inside
 *	  SECURITY_RESTRICTED_OPERATION (the statements are ours and run over
 *	  the extension's own objects only; the restriction is defence in
 *	  depth, as for VACUUM).  It runs fixed SQL on the catalogs
 *	  of kinesis, kinesis_video, firehose and glue, and DDL on the storage
 *	  of data and video streams, which belongs to the extension owner so
 *	  that no user can attach code to it (indexes, statistics, triggers,
 *	  rules, policies, partitions, children; the DDL guard in ddl_guard.c
 *	  refuses these even to superusers).  Callers: stream_catalog.c (create,
 *	  delete, retention, quotas), stream_cache.c (catalog reads),
 *	  segments.c (segment DDL and upkeep), reshard.c, on_demand.c,
 *	  iterator.c (the iterator secret), consumers.c, esm_catalog.c,
 *	  esm_supervisor.c, esm_runner.c (mapping catalog rows only),
 *	  video_catalog.c (create/delete: storage DDL, kinesis_video._upkeep),
 *	  video_put.c (stream row, segment check, last fragment of the
 *	  extension-owned fragment table, fragment number), video_worker.c
 *	  (_upkeep, processor list), delivery.c, job_worker.c,
 *	  crawler_worker.c, trigger_cron.c (their catalog rows and supervision
 *	  functions), owned.c (DROP/REASSIGN OWNED: catalog owners, GRANTs).
 * 2. To an object's owner with SECURITY_LOCAL_USERID_CHANGE |
 *	  SECURITY_RESTRICTED_OPERATION, in background workers, for user code
 *	  and user data: esm_runner.c (read a batch, call the mapping's
 *	  function, failure destinations), delivery.c (a Firehose batch),
 *	  video_worker.c (a stream processor batch), job_worker.c
 *	  (glue._job_run_body), crawler_worker.c (each crawl step).
 * 3. set_config('role', owner, true) in SQL: glue._set_trigger_schedule
 *	  (triggers.sql) and glue._set_schedule (crawlers.sql) call pg_cron as
 *	  the trigger's or crawler's owner (see the glue rules of the README).
 * put_media and put_record(s) switch nobody: rows are inserted as the
 * caller, who needs INSERT on the storage.
 *
 * Locking: none of its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_CATALOG_H
#define KG_CATALOG_H

#include "executor/spi.h"

typedef struct KgCatalogContext
{
	Oid			save_userid;
	int			save_sec_context;
	int			guc_level;
	bool		snapshot_pushed;
} KgCatalogContext;

extern int	kg_internal_ddl_depth;
extern void kg_catalog_init_backend(void);
extern bool kg_internal_ddl_running(void);
extern Oid	kg_extension_owner(void);
extern Oid	kg_extension_lookup(char **version);
extern void kg_catalog_enter(KgCatalogContext *ctx, bool latest_snapshot);
extern void kg_catalog_exit(KgCatalogContext *ctx);
extern void kg_grant_storage(const char *qtable, Oid role);
extern char *kg_free_relation_name(const char *nspname, const char *name, int32 id);
extern int	kg_spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
						const char *nulls, bool read_only);

#endif							/* KG_CATALOG_H */
