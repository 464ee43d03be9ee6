/*-------------------------------------------------------------------------
 *
 * owned.c
 *		DROP OWNED BY, REASSIGN OWNED BY and DROP ROLE for the objects a
 *		role owns in kinesis_glue's catalogs.
 *
 * Each component registers what its roles can own (KgOwnedObjects, from
 * its init function): the labels and catalogs for DROP ROLE's check, and
 * callbacks that refuse a DROP OWNED while objects are busy, delete the
 * objects and move their owner.  This file runs them and names no
 * component; the helpers below are what the callbacks share.
 *
 * The storage of a stream belongs to the extension owner; its owner role
 * is recorded in the catalog and holds SELECT and INSERT WITH GRANT OPTION
 * on the storage.  Those privileges are a shared dependency (pg_shdepend),
 * so DROP ROLE of a stream owner is refused as for any role that holds
 * privileges.  Objects whose owner is only a regrole column have no
 * pg_shdepend entry: for them the utility hook calls
 * kg_owned_check_drop_role before DROP ROLE runs.  After PostgreSQL has
 * run DROP OWNED or REASSIGN OWNED (and checked that the caller has the
 * privileges of every role named), the utility hook calls
 * kg_owned_objects_done:
 *
 *	DROP OWNED BY r: every component's check_drop runs first (a refusal,
 *	2BP01, leaves everything in place: work in progress is not stopped
 *	behind the caller's back); then the components' drop callbacks run in
 *	reverse registration order (dependents first), each deleting r's
 *	objects through the extension's own delete functions, run as the
 *	caller (who has r's privileges, so the functions' owner checks pass).
 *
 *	REASSIGN OWNED BY r TO n: as the extension owner, every component sets
 *	the owner of r's objects to n (and gives n the storage privileges an
 *	owner holds).
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
#include "lib/stringinfo.h"

#include "common/kg_catalog.h"
#include "common/kg_errors.h"
#include "worker/kg_worker.h"

#define KG_MAX_OWNED 8

/* the registered components' objects, in registration order */
static const KgOwnedObjects *owned_objects[KG_MAX_OWNED];
static int	nowned_objects = 0;

/*
 * Add a component's objects to DROP/REASSIGN OWNED and DROP ROLE (from its
 * init function in _PG_init; objects must stay valid: a static const).
 */
void
kg_owned_register(const KgOwnedObjects *objects)
{
	if (nowned_objects >= KG_MAX_OWNED)
		elog(ERROR, "too many kinesis_glue owned object registrations");
	owned_objects[nowned_objects++] = objects;
}

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
 * Run sql (one oid[] parameter: the roles) as the extension owner; return
 * the first column of each row as a string allocated in cxt.
 */
List *
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

/*
 * Delete each object that query (run as the extension owner, $1 = the
 * roles) names, by running call ($1 = the name, text) as the caller with
 * search_path pinned.
 */
void
kg_owned_delete_each(const char *query, const char *call, Datum roles)
{
	List	   *names = kg_owned_names(query, roles, CurrentMemoryContext);
	ListCell   *lc;

	foreach(lc, names)
	{
		int			guc_level = NewGUCNestLevel();

		(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "could not connect to the SPI manager");
		kg_spi_exec(call, 1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(lfirst(lc))},
					NULL, false);
		SPI_finish();
		AtEOXact_GUC(true, guc_level);
	}
}

/*
 * REASSIGN OWNED: run each statement of sql ($1 = the roles, oid[]; $2 =
 * newrole) in turn.  Inside kg_catalog_enter.
 */
void
kg_owned_reassign_sql(const char *const *sql, int nsql, Datum roles, Oid newrole)
{
	for (int i = 0; i < nsql; i++)
		kg_spi_exec(sql[i], 2, (Oid[]) {OIDARRAYOID, OIDOID}, (Datum[]) {roles, ObjectIdGetDatum(newrole)},
					NULL, false);
}

/*
 * REASSIGN OWNED of a stream catalog: set owner = newrole where it is one
 * of roles; the UPDATE ... RETURNING (returning) yields the storage table
 * (text) first, to which newrole gets the owner's rights; each_row (may be
 * NULL) sees every returned row.  Inside kg_catalog_enter.
 */
void
kg_owned_reassign_storage(const char *catalog, const char *returning, Datum roles, Oid newrole,
						  void (*each_row) (HeapTuple row, TupleDesc desc))
{
	int			n;
	SPITupleTable *tt;

	n = kg_spi_exec(psprintf("UPDATE %s SET owner = $2 WHERE " KG_OWNED_BY " RETURNING %s",
							 catalog, returning),
					2, (Oid[]) {OIDARRAYOID, OIDOID}, (Datum[]) {roles, ObjectIdGetDatum(newrole)},
					NULL, false);
	tt = SPI_tuptable;
	for (int i = 0; i < n; i++)
	{
		kg_grant_storage(SPI_getvalue(tt->vals[i], tt->tupdesc, 1), newrole);
		if (each_row)
			each_row(tt->vals[i], tt->tupdesc);
	}
}

/* DROP OWNED BY roles: every component checks, then deletes (dependents first). */
static void
kg_drop_owned(DropOwnedStmt *stmt)
{
	Datum		roles = kg_role_array(stmt->roles);

	for (int i = 0; i < nowned_objects; i++)
		if (owned_objects[i]->check_drop)
			owned_objects[i]->check_drop(roles);
	for (int i = nowned_objects - 1; i >= 0; i--)
		if (owned_objects[i]->drop)
			owned_objects[i]->drop(roles, stmt->behavior);
}

/* REASSIGN OWNED BY roles TO newrole: move the catalog owners and the owner's privileges. */
static void
kg_reassign_owned(ReassignOwnedStmt *stmt)
{
	Datum		roles = kg_role_array(stmt->roles);
	Oid			newrole = get_rolespec_oid(stmt->newrole, false);
	KgCatalogContext cc;

	kg_catalog_enter(&cc, true);
	for (int i = 0; i < nowned_objects; i++)
		if (owned_objects[i]->reassign)
			owned_objects[i]->reassign(roles, newrole);
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
 * The query DROP ROLE's check runs: one row, "n label, ..." of the kinds
 * the role ($1) owns, in registration order; no row when it owns nothing.
 */
static char *
kg_owned_count_query(void)
{
	StringInfoData buf;
	int			rank = 0;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT pg_catalog.string_agg(pg_catalog.format('%s %s', n, kind), ', ' ORDER BY o) "
						   "FROM (VALUES ");
	for (int i = 0; i < nowned_objects; i++)
		for (int k = 0; owned_objects[i]->labels[k] != NULL; k++)
		{
			rank++;
			appendStringInfo(&buf, "%s(%d, %s, (SELECT pg_catalog.count(*) FROM %s WHERE " KG_OWNED_BY "))",
							 rank > 1 ? ", " : "", rank, quote_literal_cstr(owned_objects[i]->labels[k]),
							 owned_objects[i]->catalogs[k]);
		}
	appendStringInfoString(&buf, ") x(o, kind, n) WHERE n OPERATOR(pg_catalog.>) 0 "
						   "HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0");
	return buf.data;
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
	char	   *query = NULL;

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
		if (query == NULL)
			query = kg_owned_count_query();
		kinds = kg_owned_names(query, roles, CurrentMemoryContext);
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
