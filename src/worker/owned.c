/*-------------------------------------------------------------------------
 *
 * owned.c
 *		DROP OWNED BY and REASSIGN OWNED BY for the streams a role owns:
 *		data streams (kinesis.streams.owner), video streams
 *		(kinesis_video.streams.owner) and stream processors
 *		(kinesis_video.stream_processors.owner).
 *
 * The storage of a stream belongs to the extension owner; its owner role
 * is recorded in the catalog and holds SELECT and INSERT WITH GRANT OPTION
 * on the storage.  Those privileges are a shared dependency (pg_shdepend),
 * so DROP ROLE of a stream owner is refused as for any role that holds
 * privileges ("privileges for table kinesis_records.orders").  After
 * PostgreSQL has run the command (and checked that the caller has the
 * privileges of every role named), the utility hook calls
 * kg_owned_objects_done:
 *
 *	DROP OWNED BY r: r's stream processors are deleted; then r's video
 *	streams and data streams, with their storage, as kinesis_video.
 *	delete_stream and kinesis.delete_stream(..., true) would (a data
 *	stream's consumers go with it).  A video stream that another role's
 *	stream processor reads is refused under RESTRICT and deleted with the
 *	processor under CASCADE, as PostgreSQL does for dependent objects.
 *
 *	REASSIGN OWNED BY r TO n: the catalog owner of r's streams and
 *	processors becomes n, and n gets the storage privileges an owner holds.
 *	r keeps the privileges it was granted (as PostgreSQL leaves ACLs to
 *	DROP OWNED).
 *
 * The objects whose owner is only a regrole column (no pg_shdepend entry):
 * event source mappings, Firehose delivery streams, Glue triggers,
 * workflows, jobs, crawlers, tables and databases, are handled here too:
 *
 *	DROP OWNED BY r first refuses (2BP01) when one of r's jobs has runs in
 *	progress, one of r's crawlers is crawling or one of r's workflows has
 *	a run in progress: they are not stopped behind the caller's back.
 *	Otherwise each object is deleted by the extension's own delete
 *	function, run as the caller (who has r's privileges, so the functions'
 *	owner checks pass): a scheduled trigger or crawler loses its pg_cron
 *	job, a DirectPut delivery stream its source stream.  A Glue database
 *	of r goes with the tables other roles made in it.
 *
 *	REASSIGN OWNED BY r TO n sets their owner column to n as the extension
 *	owner; mappings get a new generation (their runners restart as n), and
 *	the pg_cron jobs of r's scheduled triggers and crawlers are scheduled
 *	again to run as n.
 *
 *	DROP ROLE r is refused (2BP01) before it runs while r owns any
 *	kinesis_glue object in the current database; other databases cannot
 *	be seen from here.
 *
 * All act in the current database only, as PostgreSQL's commands do.
 *
 * Locking: the stream functions' own (delete_stream takes SHARE ROW
 * EXCLUSIVE on the streams catalog); the catalog UPDATEs lock their rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "common/kg_catalog.h"
#include "common/kg_errors.h"
#include "streams/stream_state.h"
#include "worker/kg_worker.h"

/* The roles of a DROP/REASSIGN OWNED as an oid[] datum. */
static Datum
kg_role_array(List *rolespecs)
{
	int			n = list_length(rolespecs);
	Datum	   *oids = palloc(sizeof(Datum) * Max(n, 1));
	int			i = 0;
	ListCell   *lc;

	foreach(lc, rolespecs)
		oids[i++] = ObjectIdGetDatum(get_rolespec_oid(lfirst(lc), false));
	return PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

/*
 * Run sql (one oid[] parameter) as the extension owner; return the first
 * column of each row as a string allocated in cxt.
 */
static List *
kg_owned_names(const char *sql, Datum roles, MemoryContext cxt)
{
	KgCatalogContext cc;
	List	   *names = NIL;
	int			n;

	kg_catalog_enter(&cc, true);
	n = kg_spi_exec(sql, 1, (Oid[]) {OIDARRAYOID}, (Datum[]) {roles}, NULL, false);
	for (int i = 0; i < n; i++)
		names = lappend(names, MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[i],
																	 SPI_tuptable->tupdesc, 1)));
	kg_catalog_exit(&cc);
	return names;
}

/* Run one stream function (sql, one text parameter) as the caller, search_path pinned. */
static void
kg_owned_call(const char *sql, const char *name)
{
	int			guc_level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to the SPI manager");
	kg_spi_exec(sql, 1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name)}, NULL, false);
	SPI_finish();
	AtEOXact_GUC(true, guc_level);
}

/*
 * Objects whose owner is only a regrole column, in the order they are
 * deleted (dependents first): the query lists the owned ones by name (as
 * text), the call deletes one as the caller.
 */
static const struct
{
	const char *query;
	const char *call;
}			kg_regrole_objects[] =
{
	{"SELECT mapping_id::pg_catalog.text FROM kinesis.event_source_mappings WHERE %s ORDER BY 1",
	"SELECT kinesis.delete_event_source_mapping($1::pg_catalog.int8)"},
	{"SELECT delivery_stream_name FROM firehose.delivery_streams WHERE %s ORDER BY 1",
	"SELECT firehose.delete_delivery_stream($1)"},
	{"SELECT trigger_name FROM glue.triggers WHERE %s ORDER BY 1",
	"SELECT glue.delete_trigger($1)"},
	{"SELECT workflow_name FROM glue.workflows WHERE %s ORDER BY 1",
	"SELECT glue.delete_workflow($1)"},
	{"SELECT job_name FROM glue.jobs WHERE %s ORDER BY 1",
	"SELECT glue.delete_job($1)"},
	{"SELECT crawler_name FROM glue.crawlers WHERE %s ORDER BY 1",
	"SELECT glue.delete_crawler($1)"},
	/* Glue names have no dots: database.table */
	{"SELECT d.database_name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) t.table_name "
		"FROM glue.tables t JOIN glue.databases d USING (database_id) WHERE t.%s ORDER BY 1",
	"SELECT glue.delete_table(pg_catalog.split_part($1, '.', 1), pg_catalog.split_part($1, '.', 2))"},
	{"SELECT database_name FROM glue.databases WHERE %s ORDER BY 1",
	"SELECT glue.delete_database($1)"},
};

#define KG_OWNED_BY "owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)"

/*
 * DROP OWNED BY roles, first part: refuse while their Glue work is in
 * progress, then delete their mappings, delivery streams and Glue objects.
 */
static void
kg_drop_owned_regrole(Datum roles)
{
	List	   *busy;

	busy = kg_owned_names("SELECT pg_catalog.format('job \"%s\" has runs in progress', j.job_name) FROM glue.jobs j "
						  "WHERE j." KG_OWNED_BY " AND EXISTS (SELECT FROM glue.job_runs r "
						  "WHERE r.job_id OPERATOR(pg_catalog.=) j.job_id "
						  "AND r.state OPERATOR(pg_catalog.=) ANY ('{WAITING,STARTING,RUNNING,STOPPING}')) "
						  "UNION ALL SELECT pg_catalog.format('crawler \"%s\" is running', c.crawler_name) FROM glue.crawlers c "
						  "WHERE c." KG_OWNED_BY " AND glue._crawler_state(c.crawler_id) OPERATOR(pg_catalog.<>) 'READY' "
						  "UNION ALL SELECT pg_catalog.format('workflow \"%s\" has a run in progress', w.workflow_name) "
						  "FROM glue.workflows w WHERE w." KG_OWNED_BY " AND EXISTS (SELECT FROM glue.workflow_runs r "
						  "WHERE r.workflow_id OPERATOR(pg_catalog.=) w.workflow_id "
						  "AND r.status OPERATOR(pg_catalog.=) 'RUNNING') ORDER BY 1",
						  roles, CurrentMemoryContext);
	if (busy != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop the Glue objects owned by the role because they are in use"),
				 errdetail("Glue %s%s.", (char *) linitial(busy),
						   list_length(busy) > 1 ? psprintf(" (and %d more)", list_length(busy) - 1) : ""),
				 errhint("Stop the job runs, crawls and workflow runs and wait until they end, then retry.")));

	for (int i = 0; i < lengthof(kg_regrole_objects); i++)
	{
		List	   *names = kg_owned_names(psprintf(kg_regrole_objects[i].query, KG_OWNED_BY),
										   roles, CurrentMemoryContext);
		ListCell   *lc;

		foreach(lc, names)
			kg_owned_call(kg_regrole_objects[i].call, lfirst(lc));
	}
}

/*
 * DROP OWNED BY roles: delete their Glue, Firehose and mapping objects,
 * then their processors and streams.
 */
static void
kg_drop_owned(DropOwnedStmt *stmt)
{
	Datum		roles = kg_role_array(stmt->roles);
	List	   *blockers;
	List	   *names;
	ListCell   *lc;

	kg_drop_owned_regrole(roles);
	(void) kg_owned_names("DELETE FROM kinesis_video.stream_processors "
						  "WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1) RETURNING name",
						  roles, CurrentMemoryContext);
	blockers = kg_owned_names("SELECT p.name FROM kinesis_video.stream_processors p "
							  "JOIN kinesis_video.streams s USING (stream_id) "
							  "WHERE s.owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1) ORDER BY 1",
							  roles, CurrentMemoryContext);
	if (blockers != NIL && stmt->behavior != DROP_CASCADE)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop the video streams owned by the role because other objects depend on them"),
				 errdetail("Stream processor \"%s\" of another role reads one of them.",
						   (char *) linitial(blockers)),
				 errhint("Use DROP OWNED ... CASCADE to delete such stream processors too.")));
	if (blockers != NIL)
		(void) kg_owned_names("DELETE FROM kinesis_video.stream_processors p USING kinesis_video.streams s "
							  "WHERE p.stream_id OPERATOR(pg_catalog.=) s.stream_id "
							  "AND s.owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1) RETURNING p.name",
							  roles, CurrentMemoryContext);

	names = kg_owned_names("SELECT stream_name FROM kinesis_video.streams "
						   "WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1) ORDER BY 1",
						   roles, CurrentMemoryContext);
	foreach(lc, names)
		kg_owned_call("SELECT kinesis_video.delete_stream($1)", lfirst(lc));

	names = kg_owned_names("SELECT stream_name FROM kinesis.streams "
						   "WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1) ORDER BY 1",
						   roles, CurrentMemoryContext);
	foreach(lc, names)
		kg_owned_call("SELECT kinesis.delete_stream($1, true)", lfirst(lc));
}

/*
 * Set owner = newrole in catalog where it is one of roles; the UPDATE
 * returns the storage table (text) and, for data streams, the stream id.
 * Gives newrole the owner's rights on each storage table.  Inside
 * kg_catalog_enter.
 */
static void
kg_reassign_catalog(const char *catalog, const char *returning, Datum roles, Oid newrole,
					bool data_streams)
{
	int			n;
	SPITupleTable *tt;

	n = kg_spi_exec(psprintf("UPDATE %s SET owner = $2 "
							 "WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)%s",
							 catalog, returning),
					2, (Oid[]) {OIDARRAYOID, OIDOID}, (Datum[]) {roles, ObjectIdGetDatum(newrole)},
					NULL, false);
	tt = SPI_tuptable;
	for (int i = 0; i < n && returning[0] != '\0'; i++)
	{
		bool		isnull;

		kg_grant_storage(SPI_getvalue(tt->vals[i], tt->tupdesc, 1), newrole);
		if (data_streams)
			kg_stream_changed_at_commit(DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull)),
										false);
	}
}

/*
 * REASSIGN OWNED, the objects whose owner is only a regrole column: set it
 * to newrole; mappings restart (new generation) to run as newrole, and the
 * pg_cron jobs of scheduled triggers and crawlers are scheduled again, run
 * by newrole (which must then be able to log in and use schema cron, as
 * when it schedules one itself).  Inside kg_catalog_enter.
 */
static void
kg_reassign_regrole(Datum roles, Oid newrole)
{
	static const char *const sql[] = {
		"UPDATE kinesis.event_source_mappings SET owner = $2, generation = generation + 1, "
		"updated_at = pg_catalog.clock_timestamp() WHERE " KG_OWNED_BY,
		"UPDATE firehose.delivery_streams SET owner = $2 WHERE " KG_OWNED_BY,
		"WITH t AS (UPDATE glue.triggers SET owner = $2 WHERE " KG_OWNED_BY " RETURNING *) "
		"SELECT glue._set_trigger_schedule(t::glue.triggers) FROM t "
		"WHERE t.trigger_type OPERATOR(pg_catalog.=) 'SCHEDULED'",
		"UPDATE glue.workflows SET owner = $2 WHERE " KG_OWNED_BY,
		"UPDATE glue.jobs SET owner = $2 WHERE " KG_OWNED_BY,
		"WITH c AS (UPDATE glue.crawlers SET owner = $2 WHERE " KG_OWNED_BY " RETURNING *) "
		"SELECT glue._set_schedule(c::glue.crawlers, false) FROM c WHERE c.schedule IS NOT NULL "
		"AND EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'pg_cron')",
		"UPDATE glue.tables SET owner = $2 WHERE " KG_OWNED_BY,
		"UPDATE glue.databases SET owner = $2 WHERE " KG_OWNED_BY,
	};

	for (int i = 0; i < lengthof(sql); i++)
		kg_spi_exec(sql[i], 2, (Oid[]) {OIDARRAYOID, OIDOID}, (Datum[]) {roles, ObjectIdGetDatum(newrole)},
					NULL, false);
}

/* REASSIGN OWNED BY roles TO newrole: move the catalog owners and the owner's privileges. */
static void
kg_reassign_owned(ReassignOwnedStmt *stmt)
{
	Datum		roles = kg_role_array(stmt->roles);
	Oid			newrole = get_rolespec_oid(stmt->newrole, false);
	KgCatalogContext cc;

	kg_catalog_enter(&cc, true);
	kg_reassign_catalog("kinesis.streams", " RETURNING record_table::pg_catalog.text, stream_id",
						roles, newrole, true);
	kg_reassign_catalog("kinesis_video.streams", " RETURNING media_table::pg_catalog.text",
						roles, newrole, false);
	kg_reassign_catalog("kinesis_video.stream_processors", "", roles, newrole, false);
	kg_reassign_regrole(roles, newrole);
	kg_catalog_exit(&cc);
}

/*
 * Called by the utility hook after PostgreSQL ran a DROP OWNED or REASSIGN
 * OWNED (so the caller's right to act for the roles has been checked).
 * Nothing to do in a database without the extension.
 */
void
kg_owned_objects_done(Node *parsetree)
{
	if (!OidIsValid(get_extension_oid("kinesis_glue", true)))
		return;
	if (IsA(parsetree, DropOwnedStmt))
		kg_drop_owned((DropOwnedStmt *) parsetree);
	else if (IsA(parsetree, ReassignOwnedStmt))
		kg_reassign_owned((ReassignOwnedStmt *) parsetree);
}

/*
 * Called by the utility hook before PostgreSQL runs DROP ROLE: refuse
 * (2BP01) while a role named owns kinesis_glue objects in the current
 * database, as PostgreSQL refuses while it owns objects.  Only for callers
 * that may drop roles (others get PostgreSQL's own error); roles that do
 * not exist are left to PostgreSQL.
 */
void
kg_owned_check_drop_role(DropRoleStmt *stmt)
{
	ListCell   *lc;

	if (!OidIsValid(get_extension_oid("kinesis_glue", true)) || !has_createrole_privilege(GetUserId()))
		return;
	foreach(lc, stmt->roles)
	{
		RoleSpec   *spec = lfirst(lc);
		Oid			role;
		Datum		roles;
		List	   *kinds;

		if (spec->roletype != ROLESPEC_CSTRING ||
			!OidIsValid(role = get_role_oid(spec->rolename, true)))
			continue;
		roles = PointerGetDatum(construct_array((Datum[]) {ObjectIdGetDatum(role)}, 1, OIDOID,
												sizeof(Oid), true, TYPALIGN_INT));
		kinds = kg_owned_names("SELECT pg_catalog.string_agg(pg_catalog.format('%s %s', n, kind), ', ' ORDER BY o) "
							   "FROM (VALUES "
							   "(1, 'data streams', (SELECT pg_catalog.count(*) FROM kinesis.streams WHERE " KG_OWNED_BY ")), "
							   "(2, 'event source mappings', (SELECT pg_catalog.count(*) FROM kinesis.event_source_mappings WHERE " KG_OWNED_BY ")), "
							   "(3, 'Firehose delivery streams', (SELECT pg_catalog.count(*) FROM firehose.delivery_streams WHERE " KG_OWNED_BY ")), "
							   "(4, 'video streams', (SELECT pg_catalog.count(*) FROM kinesis_video.streams WHERE " KG_OWNED_BY ")), "
							   "(5, 'video stream processors', (SELECT pg_catalog.count(*) FROM kinesis_video.stream_processors WHERE " KG_OWNED_BY ")), "
							   "(6, 'Glue triggers', (SELECT pg_catalog.count(*) FROM glue.triggers WHERE " KG_OWNED_BY ")), "
							   "(7, 'Glue workflows', (SELECT pg_catalog.count(*) FROM glue.workflows WHERE " KG_OWNED_BY ")), "
							   "(8, 'Glue jobs', (SELECT pg_catalog.count(*) FROM glue.jobs WHERE " KG_OWNED_BY ")), "
							   "(9, 'Glue crawlers', (SELECT pg_catalog.count(*) FROM glue.crawlers WHERE " KG_OWNED_BY ")), "
							   "(10, 'Glue tables', (SELECT pg_catalog.count(*) FROM glue.tables WHERE " KG_OWNED_BY ")), "
							   "(11, 'Glue databases', (SELECT pg_catalog.count(*) FROM glue.databases WHERE " KG_OWNED_BY "))"
							   ") x(o, kind, n) WHERE n OPERATOR(pg_catalog.>) 0 HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0",
							   roles, CurrentMemoryContext);
		if (kinds != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because some objects depend on it", spec->rolename),
					 errdetail("It owns kinesis_glue objects in database \"%s\": %s.",
							   get_database_name(MyDatabaseId), (char *) linitial(kinds)),
					 errhint("DROP OWNED BY %s or REASSIGN OWNED BY %s TO another role in every database "
							 "where kinesis_glue is installed, then DROP ROLE.",
							 quote_identifier(spec->rolename), quote_identifier(spec->rolename))));
	}
}
