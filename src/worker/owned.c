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
 * Both act in the current database only, as PostgreSQL's commands do.
 *
 * Locking: the stream functions' own (delete_stream takes SHARE ROW
 * EXCLUSIVE on the streams catalog); the catalog UPDATEs lock their rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
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

/* DROP OWNED BY roles: delete their processors and streams. */
static void
kg_drop_owned(DropOwnedStmt *stmt)
{
	Datum		roles = kg_role_array(stmt->roles);
	List	   *blockers;
	List	   *names;
	ListCell   *lc;

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
