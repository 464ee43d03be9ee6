/*-------------------------------------------------------------------------
 *
 * ddl_guard.c
 *		The DDL guard of the utility hook: refuse every command that would
 *		change, or attach code or structure to, the storage of a data
 *		stream or video stream, unless the extension itself runs it.
 *
 * The storage (kinesis_records.*, kinesis_segments.*,
 * kinesis_video_media.*, kinesis_video_segments.*) belongs to the
 * extension owner, so PostgreSQL already refuses such DDL to everybody
 * else (it needs ownership).  The guard is the defence in depth on top of
 * that: it also refuses superusers and roles that became members of the
 * extension owner, with an error that names the stream functions to use.
 * Guarded are: DROP (table, index, trigger), ALTER TABLE/INDEX (including
 * ATTACH/DETACH PARTITION and INHERIT on either side), RENAME, SET SCHEMA,
 * CREATE INDEX, CREATE TRIGGER/RULE/POLICY, ALTER POLICY, CREATE/ALTER
 * STATISTICS, and CREATE TABLE ... PARTITION OF / INHERITS a protected
 * table.
 *
 * The extension's own DDL passes while kg_internal_ddl_running(): inside
 * kg_catalog_enter/exit, as the extension owner (kg_catalog.c restores the
 * depth counter when a subtransaction aborts, so the guard cannot stay
 * lowered after a caught error).
 *
 * Locking: none; relation names are resolved without locks (the command
 * itself locks what it changes).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_statistic_ext.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "common/kg_catalog.h"
#include "worker/kg_worker.h"

/*
 * Is relid a stream's record table or segment, or a video stream's
 * fragment table or segment (or an index of one)?  Sets *video.
 */
static bool
kg_is_stream_relation(Oid relid, bool *video)
{
	Oid			nsp;
	char	   *nspname;

	if (!OidIsValid(relid))
		return false;
	nsp = get_rel_namespace(relid);
	if (!OidIsValid(nsp))
		return false;
	nspname = get_namespace_name(nsp);
	if (nspname == NULL)
		return false;
	*video = strcmp(nspname, "kinesis_video_media") == 0 ||
		strcmp(nspname, "kinesis_video_segments") == 0;
	return *video || strcmp(nspname, "kinesis_records") == 0 ||
		strcmp(nspname, "kinesis_segments") == 0;
}

/* ERROR if relid is protected storage and the extension is not running the command. */
static void
kg_refuse_relid(Oid relid, const char *relname, const char *what)
{
	bool		video = false;

	if (!kg_is_stream_relation(relid, &video))
		return;
	/* the owner lookup needs the extension: only ask inside kg_catalog_enter */
	if (kg_internal_ddl_depth > 0 && kg_internal_ddl_running())
		return;
	if (video)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("AccessDeniedException: cannot %s the fragment storage of a video stream", what),
				 errdetail("Relation \"%s\" belongs to a kinesis_glue video stream.", relname),
				 errhint("Use kinesis_video.delete_stream() and the other kinesis_video functions; GRANT and REVOKE work as usual.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("AccessDeniedException: cannot %s the record storage of a data stream", what),
			 errdetail("Relation \"%s\" belongs to a kinesis_glue data stream.", relname),
			 errhint("Use kinesis.delete_stream() and the other kinesis functions; GRANT and REVOKE work as usual.")));
}

/* kg_refuse_relid for a name as written in the command (absent: nothing to guard). */
static void
kg_refuse_rangevar(RangeVar *rv, const char *what)
{
	if (rv == NULL)
		return;
	kg_refuse_relid(RangeVarGetRelid(rv, NoLock, true), rv->relname, what);
}

/* DROP TABLE / INDEX / TRIGGER */
static void
kg_guard_drop(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_TABLE && stmt->removeType != OBJECT_INDEX &&
		stmt->removeType != OBJECT_TRIGGER)
		return;
	foreach(lc, stmt->objects)
	{
		List	   *names = (List *) lfirst(lc);

		if (stmt->removeType == OBJECT_TRIGGER)
			names = list_truncate(list_copy(names), list_length(names) - 1);
		kg_refuse_rangevar(makeRangeVarFromNameList(names),
						   stmt->removeType == OBJECT_INDEX ? "drop an index of" : "drop");
	}
}

/*
 * ALTER TABLE / INDEX on protected storage, and the subcommands of an
 * ALTER on any table that would tie protected storage to it (INHERIT,
 * ATTACH/DETACH PARTITION).
 */
static void
kg_guard_alter_table(AlterTableStmt *stmt)
{
	ListCell   *lc;

	kg_refuse_rangevar(stmt->relation, "alter");
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if ((cmd->subtype == AT_AddInherit || cmd->subtype == AT_DropInherit) && cmd->def)
			kg_refuse_rangevar((RangeVar *) cmd->def, "inherit from");
		else if ((cmd->subtype == AT_AttachPartition || cmd->subtype == AT_DetachPartition) &&
				 cmd->def)
			kg_refuse_rangevar(((PartitionCmd *) cmd->def)->name, "attach or detach");
	}
}

/* CREATE TABLE ... PARTITION OF / INHERITS (also foreign tables) */
static void
kg_guard_create_table(CreateStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->inhRelations)
		kg_refuse_rangevar(lfirst_node(RangeVar, lc),
						   stmt->partbound ? "create a partition of" : "inherit from");
}

/* CREATE STATISTICS ... FROM protected: its expressions would run in ANALYZE and planning */
static void
kg_guard_create_statistics(CreateStatsStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->relations)
	{
		Node	   *rel = (Node *) lfirst(lc);

		if (IsA(rel, RangeVar))
			kg_refuse_rangevar((RangeVar *) rel, "create statistics on");
	}
}

/* ALTER STATISTICS of a statistics object on protected storage */
static void
kg_guard_alter_statistics(AlterStatsStmt *stmt)
{
	Oid			statoid = get_statistics_object_oid(stmt->defnames, true);
	HeapTuple	tup;
	Oid			relid;

	if (!OidIsValid(statoid))
		return;
	tup = SearchSysCache1(STATEXTOID, ObjectIdGetDatum(statoid));
	if (!HeapTupleIsValid(tup))
		return;
	relid = ((Form_pg_statistic_ext) GETSTRUCT(tup))->stxrelid;
	ReleaseSysCache(tup);
	kg_refuse_relid(relid, get_rel_name(relid), "alter statistics on");
}

/*
 * Refuse DDL that would break a stream behind the extension's back or
 * attach code to its storage (see the file header for the list).  Called
 * by the utility hook before the command runs.
 */
void
kg_ddl_guard(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_DropStmt:
			kg_guard_drop((DropStmt *) parsetree);
			break;
		case T_AlterTableStmt:
			kg_guard_alter_table((AlterTableStmt *) parsetree);
			break;
		case T_IndexStmt:
			kg_refuse_rangevar(((IndexStmt *) parsetree)->relation, "index");
			break;
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;

				if (stmt->renameType == OBJECT_TABLE || stmt->renameType == OBJECT_INDEX ||
					stmt->renameType == OBJECT_COLUMN || stmt->renameType == OBJECT_TRIGGER ||
					stmt->renameType == OBJECT_TABCONSTRAINT)
					kg_refuse_rangevar(stmt->relation, "rename");
				break;
			}
		case T_AlterObjectSchemaStmt:
			if (((AlterObjectSchemaStmt *) parsetree)->objectType == OBJECT_TABLE)
				kg_refuse_rangevar(((AlterObjectSchemaStmt *) parsetree)->relation, "move");
			break;
		case T_CreateStmt:
		case T_CreateForeignTableStmt:
			kg_guard_create_table((CreateStmt *) parsetree);
			break;
		case T_CreateStatsStmt:
			kg_guard_create_statistics((CreateStatsStmt *) parsetree);
			break;
		case T_AlterStatsStmt:
			kg_guard_alter_statistics((AlterStatsStmt *) parsetree);
			break;
			/* code that would run inside a put or a read */
		case T_CreateTrigStmt:
			kg_refuse_rangevar(((CreateTrigStmt *) parsetree)->relation, "create a trigger on");
			break;
		case T_RuleStmt:
			kg_refuse_rangevar(((RuleStmt *) parsetree)->relation, "create a rule on");
			break;
		case T_CreatePolicyStmt:
			kg_refuse_rangevar(((CreatePolicyStmt *) parsetree)->table, "create a policy on");
			break;
		case T_AlterPolicyStmt:
			kg_refuse_rangevar(((AlterPolicyStmt *) parsetree)->table, "alter a policy of");
			break;
		default:
			break;
	}
}
