/*-------------------------------------------------------------------------
 *
 * glue_owners.c
 *		What DROP OWNED, REASSIGN OWNED and DROP ROLE (worker/owned.c) do
 *		with the Glue triggers, workflows, jobs, crawlers, tables and
 *		databases a role owns.  DROP OWNED refuses (2BP01) while one of the
 *		role's jobs has runs in progress, one of its crawlers is crawling or
 *		one of its workflows has a run in progress: they are not stopped
 *		behind the caller's back.  Otherwise each object is deleted by its
 *		delete function, run as the caller: a scheduled trigger or crawler
 *		loses its pg_cron job, and a Glue database goes with the tables
 *		other roles made in it.  REASSIGN OWNED moves the owners, and the
 *		pg_cron jobs of scheduled triggers and crawlers are scheduled again
 *		to run as the new owner (who must then be able to log in and use
 *		schema cron, as when it schedules one itself).
 *
 * Locking: the delete functions' own; the catalog UPDATEs lock their rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "glue/glue.h"
#include "worker/kg_worker.h"

/* DROP OWNED, before anything is deleted: refuse while work is in progress. */
static void
kg_glue_check_drop_owned(Datum roles)
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
}

/*
 * The roles' objects, in the order they are deleted (dependents first):
 * the query names them (as text), the call deletes one as the caller.
 */
static const struct
{
	const char *query;
	const char *call;
}			glue_objects[] =
{
	{"SELECT trigger_name FROM glue.triggers WHERE " KG_OWNED_BY " ORDER BY 1",
	"SELECT glue.delete_trigger($1)"},
	{"SELECT workflow_name FROM glue.workflows WHERE " KG_OWNED_BY " ORDER BY 1",
	"SELECT glue.delete_workflow($1)"},
	{"SELECT job_name FROM glue.jobs WHERE " KG_OWNED_BY " ORDER BY 1",
	"SELECT glue.delete_job($1)"},
	{"SELECT crawler_name FROM glue.crawlers WHERE " KG_OWNED_BY " ORDER BY 1",
	"SELECT glue.delete_crawler($1)"},
	/* Glue names have no dots: database.table */
	{"SELECT d.database_name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) t.table_name "
		"FROM glue.tables t JOIN glue.databases d USING (database_id) WHERE t." KG_OWNED_BY " ORDER BY 1",
	"SELECT glue.delete_table(pg_catalog.split_part($1, '.', 1), pg_catalog.split_part($1, '.', 2))"},
	{"SELECT database_name FROM glue.databases WHERE " KG_OWNED_BY " ORDER BY 1",
	"SELECT glue.delete_database($1)"},
};

/* DROP OWNED: delete the roles' Glue objects. */
static void
kg_glue_drop_owned(Datum roles, DropBehavior behavior)
{
	for (int i = 0; i < lengthof(glue_objects); i++)
		kg_owned_delete_each(glue_objects[i].query, glue_objects[i].call, roles);
}

/* REASSIGN OWNED, inside kg_catalog_enter. */
static void
kg_glue_reassign_owned(Datum roles, Oid newrole)
{
	static const char *const sql[] = {
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

	kg_owned_reassign_sql(sql, lengthof(sql), roles, newrole);
}

static const char *const labels[] = {
	"Glue triggers", "Glue workflows", "Glue jobs", "Glue crawlers", "Glue tables", "Glue databases", NULL
};
static const char *const catalogs[] = {
	"glue.triggers", "glue.workflows", "glue.jobs", "glue.crawlers", "glue.tables", "glue.databases", NULL
};

const KgOwnedObjects kg_glue_owned = {
	labels, catalogs, kg_glue_check_drop_owned, kg_glue_drop_owned, kg_glue_reassign_owned
};
