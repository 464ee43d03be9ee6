/*-------------------------------------------------------------------------
 *
 * kg_catalog.c
 *		Helpers to run the extension's own catalog SQL as the extension
 *		owner with a pinned search_path (see kg_catalog.h), and to name the
 *		relations the extension creates for its objects.
 *
 * Locking: none.  kg_catalog_enter/exit must pair within one transaction;
 * an error in between is cleaned up by transaction abort (GUC nest level
 * and user id are restored by the xact machinery).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "common/kg_catalog.h"

/*
 * Depth of kg_catalog_enter calls: while positive, our own DDL runs and the
 * utility hook lets it touch stream tables.  Reset at transaction end.
 */
int			kg_internal_ddl_depth = 0;

/* Owner of the kinesis_glue extension in this database. */
Oid
kg_extension_owner(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("kinesis_glue"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"kinesis_glue\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION kinesis_glue.")));
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
	SetUserIdAndSecContext(owner, ctx->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
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
