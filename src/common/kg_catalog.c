/*-------------------------------------------------------------------------
 *
 * kg_catalog.c
 *		Helpers to run the extension's own catalog SQL as the extension
 *		owner with a pinned search_path (see kg_catalog.h), and to name the
 *		relations the extension creates for its objects.
 *
 * Locking: none.  kg_catalog_enter/exit must pair within one transaction;
 * an error in between is cleaned up by (sub)transaction abort: the xact
 * machinery restores the GUC nest level and the user id, and our
 * subtransaction callback restores kg_internal_ddl_depth to its value at
 * the start of the aborted subtransaction, so a caught error never leaves
 * the DDL guard (ddl_guard.c) lowered.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "common/kg_catalog.h"

/*
 * Depth of kg_catalog_enter calls: while positive (and the current user is
 * the extension owner), our own DDL runs and the utility hook lets it touch
 * stream tables.  Reset at transaction end; restored at subtransaction
 * abort (kg_catalog_subxact_callback).
 */
int			kg_internal_ddl_depth = 0;

/*
 * The depth saved at the start of each open subtransaction, innermost
 * last.  Lives in TopMemoryContext; emptied at transaction end.
 */
typedef struct KgDepthSave
{
	SubTransactionId subid;
	int			depth;
} KgDepthSave;

static KgDepthSave *depth_saves = NULL;
static int	ndepth_saves = 0;
static int	maxdepth_saves = 0;

/*
 * Keep kg_internal_ddl_depth in step with subtransactions: remember it when
 * one starts, put it back when one aborts (the enter/exit pairs inside were
 * cut short by the error), forget it when one commits.
 */
static void
kg_catalog_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			if (ndepth_saves == maxdepth_saves)
			{
				maxdepth_saves = Max(16, maxdepth_saves * 2);
				depth_saves = depth_saves == NULL ?
					MemoryContextAlloc(TopMemoryContext, sizeof(KgDepthSave) * maxdepth_saves) :
					repalloc(depth_saves, sizeof(KgDepthSave) * maxdepth_saves);
			}
			depth_saves[ndepth_saves].subid = mySubid;
			depth_saves[ndepth_saves].depth = kg_internal_ddl_depth;
			ndepth_saves++;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
		case SUBXACT_EVENT_ABORT_SUB:
			/* innermost first; entries of inner subtransactions are gone */
			while (ndepth_saves > 0 && depth_saves[ndepth_saves - 1].subid >= mySubid)
			{
				ndepth_saves--;
				if (event == SUBXACT_EVENT_ABORT_SUB &&
					depth_saves[ndepth_saves].subid == mySubid)
					kg_internal_ddl_depth = depth_saves[ndepth_saves].depth;
			}
			break;
		case SUBXACT_EVENT_PRE_COMMIT_SUB:
			break;
	}
}

/* At the end of a top-level transaction nothing of ours is running. */
static void
kg_catalog_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			kg_internal_ddl_depth = 0;
			ndepth_saves = 0;
			break;
		default:
			break;
	}
}

/* Register the callbacks above; called once per backend from _PG_init. */
void
kg_catalog_init_backend(void)
{
	RegisterSubXactCallback(kg_catalog_subxact_callback, NULL);
	RegisterXactCallback(kg_catalog_xact_callback, NULL);
}

/*
 * Is the extension itself running DDL right now?  True only inside
 * kg_catalog_enter/exit and while the current user is the extension owner
 * (user code called from inside, as another role, is never trusted).
 */
bool
kg_internal_ddl_running(void)
{
	return kg_internal_ddl_depth > 0 && GetUserId() == kg_extension_owner();
}

/*
 * Owner and version (palloc'd; NULL when unknown) of the kinesis_glue
 * extension in this database; InvalidOid when it is not installed.
 */
Oid
kg_extension_lookup(char **version)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	*version = NULL;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("kinesis_glue"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
		if (!isnull)
			*version = TextDatumGetCString(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return owner;
}

/*
 * Owner of the kinesis_glue extension in this database.  ERROR when the
 * extension is missing, or when its SQL objects are of another version than
 * this library (a binary upgrade before ALTER EXTENSION ... UPDATE): every
 * catalog write and the DDL guard pass through here, so the library never
 * works on a catalog whose columns it does not know.  The extension's own
 * scripts (CREATE/ALTER EXTENSION) pass.
 */
Oid
kg_extension_owner(void)
{
	char	   *version;
	Oid			owner = kg_extension_lookup(&version);

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"kinesis_glue\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION kinesis_glue.")));
	if (!creating_extension && (version == NULL || strcmp(version, KG_EXTVERSION) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"kinesis_glue\" is installed as version %s, but the loaded library is version %s",
						version ? version : "(null)", KG_EXTVERSION),
				 errdetail("The library works only with the SQL objects of its own version."),
				 errhint("Run ALTER EXTENSION kinesis_glue UPDATE as a superuser.")));
	return owner;
}

/*
 * Become the extension owner with search_path = pg_catalog, pg_temp and
 * connect to SPI.  With latest_snapshot, also push a fresh snapshot so
 * read-only statements see everything committed (even under REPEATABLE
 * READ).
 */
void
kg_catalog_enter(KgCatalogContext *ctx, bool latest_snapshot)
{
	Oid			owner = kg_extension_owner();

	GetUserIdAndSecContext(&ctx->save_userid, &ctx->save_sec_context);
	SetUserIdAndSecContext(owner, ctx->save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	ctx->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	ctx->snapshot_pushed = latest_snapshot;
	if (latest_snapshot)
		PushActiveSnapshot(GetLatestSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to the SPI manager");
	kg_internal_ddl_depth++;
}

/* Undo kg_catalog_enter. */
void
kg_catalog_exit(KgCatalogContext *ctx)
{
	kg_internal_ddl_depth--;
	SPI_finish();
	if (ctx->snapshot_pushed)
		PopActiveSnapshot();
	AtEOXact_GUC(true, ctx->guc_level);
	SetUserIdAndSecContext(ctx->save_userid, ctx->save_sec_context);
}

/*
 * Give role the rights on a stream's storage table qtable (quoted,
 * qualified) that make it the stream's owner as far as data goes: SELECT
 * (read) and INSERT (put), WITH GRANT OPTION so that it can share them
 * with GRANT as the README shows.  Nothing that attaches code (TRIGGER,
 * REFERENCES) and nothing the storage refuses anyway (UPDATE, DELETE,
 * TRUNCATE).  Caller is inside kg_catalog_enter (the extension owner owns
 * the table).
 */
void
kg_grant_storage(const char *qtable, Oid role)
{
	kg_spi_exec(psprintf("GRANT SELECT, INSERT ON %s TO %s WITH GRANT OPTION", qtable,
						 quote_identifier(GetUserNameFromId(role, false))),
				0, NULL, NULL, NULL, false);
}

/*
 * Run one fixed statement through SPI; returns SPI_processed.  Any SPI
 * failure is an internal error (the statements are ours).
 */
int
kg_spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
			const char *nulls, bool read_only)
{
	int			rc;

	rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, read_only, 0);
	if (rc < 0)
		elog(ERROR, "kinesis_glue internal query failed (%d): %s", rc, sql);
	return (int) SPI_processed;
}

/*
 * A name for a new relation of object id in schema nspname: name itself
 * when it fits and is free, else "<first 40 bytes of name>_<id>" (with
 * "_2", "_3", ... until free).  Palloc'd in the current context.
 */
char *
kg_free_relation_name(const char *nspname, const char *name, int32 id)
{
	Oid			nsp = get_namespace_oid(nspname, false);
	char	   *rel;

	if (strlen(name) < NAMEDATALEN && !OidIsValid(get_relname_relid(name, nsp)))
		return pstrdup(name);
	rel = psprintf("%.40s_%d", name, id);
	for (int i = 2; OidIsValid(get_relname_relid(rel, nsp)); i++)
		rel = psprintf("%.40s_%d_%d", name, id, i);
	return rel;
}
