/*-------------------------------------------------------------------------
 *
 * ddl_guard.c
 *		The DDL guard of the utility hook: refuse every command that would
 *		change, or attach code or structure to, the storage of a data
 *		stream or video stream, unless the extension itself runs it.
 *
 * The components register their kinds of storage with
 * kg_guard_protect_storage() (data streams: kinesis_records.*,
 * kinesis_segments.*; video streams: kinesis_video_media.*,
 * kinesis_video_segments.*).  The storage belongs to the extension
 * owner, so PostgreSQL already refuses such DDL to everybody else (it
 * needs ownership).  The guard is the defence in depth on top of
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
 * lowered after a caught error), and while the extension's own install or
 * update script runs (CREATE/ALTER EXTENSION kinesis_glue).
 *
 * Restore.  pg_dump writes the storage like any table (it is no extension
 * member): CREATE TABLE, ALTER TABLE ... OWNER TO, SET STORAGE, ATTACH
 * PARTITION in pre-data, the rows, then CREATE INDEX, ALTER INDEX ... ATTACH
 * PARTITION and, last for each stream, CREATE TRIGGER forbid_direct_dml and
 * forbid_truncate.  Storage is "sealed" once the root of its partition tree
 * carries both triggers (create_stream makes them at once).  On unsealed storage a role
 * with the privileges of the extension owner (the restoring superuser) may
 * run exactly those commands, in the shapes pg_dump writes and that run no
 * user code: OWNER TO the extension owner, SET STORAGE, ATTACH PARTITION of
 * other unsealed storage, CREATE INDEX on plain columns (no expression,
 * predicate, operator class, collation, INCLUDE, UNIQUE), and CREATE TRIGGER
 * with the extension's own trigger functions.  Everything else, and every
 * command on sealed storage, stays refused; no setting lowers the guard.
 *
 * Locking: none; relation names are resolved without locks (the command
 * itself locks what it changes).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_trigger.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "catalog/pg_statistic_ext.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "common/kg_catalog.h"
#include "worker/kg_worker.h"

#define KG_MAX_PROTECTED 8

/* the registered kinds of storage (set in _PG_init, read-only afterwards) */
static const KgProtectedStorage *protected_storage[KG_MAX_PROTECTED];
static int	nprotected_storage = 0;

/*
 * Add a kind of storage to the guard: every relation in one of its schemas
 * is protected.  Called from a component's init function in _PG_init;
 * storage must stay valid (a static const).
 */
void
kg_guard_protect_storage(const KgProtectedStorage *storage)
{
	if (nprotected_storage >= KG_MAX_PROTECTED)
		elog(ERROR, "too many kinds of kinesis_glue storage");
	protected_storage[nprotected_storage++] = storage;
}

/*
 * The kind of protected storage relid (a table or index) belongs to, or
 * NULL when it is not protected.
 */
static const KgProtectedStorage *
kg_protected_storage_of(Oid relid)
{
	Oid			nsp;
	char	   *nspname;

	if (!OidIsValid(relid))
		return NULL;
	nsp = get_rel_namespace(relid);
	if (!OidIsValid(nsp))
		return NULL;
	nspname = get_namespace_name(nsp);
	if (nspname == NULL)
		return NULL;
	for (int i = 0; i < nprotected_storage; i++)
		for (const char *const *schema = protected_storage[i]->schemas; *schema; schema++)
			if (strcmp(nspname, *schema) == 0)
				return protected_storage[i];
	return NULL;
}

/* Is the extension's own install or update script running? */
static bool
kg_extension_script_running(void)
{
	return creating_extension &&
		CurrentExtensionObject == get_extension_oid("kinesis_glue", true);
}

/*
 * Is relid storage that is not sealed yet (see the file header): the root
 * of its partition tree (of its table, for an index) lacks one of the
 * triggers forbid_direct_dml and forbid_truncate?  A restore is then still
 * recreating it: the stream cache and the workers leave such a stream
 * alone (its catalog rows may be there before its segments are listed).
 */
bool
kg_storage_unsealed(Oid relid)
{
	Oid			root = relid;
	List	   *ancestors;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	int			found = 0;

	if (get_rel_relkind(root) == RELKIND_INDEX ||
		get_rel_relkind(root) == RELKIND_PARTITIONED_INDEX)
		root = IndexGetRelation(root, false);
	ancestors = get_partition_ancestors(root);
	if (ancestors != NIL)
		root = llast_oid(ancestors);
	rel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(root));
	scan = systable_beginscan(rel, TriggerRelidNameIndexId, true, NULL, 1, &key);
	for (;;)
	{
		HeapTuple	tup = systable_getnext(scan);
		const char *name;

		if (!HeapTupleIsValid(tup))
			break;
		name = NameStr(((Form_pg_trigger) GETSTRUCT(tup))->tgname);
		if (strcmp(name, "forbid_direct_dml") == 0 || strcmp(name, "forbid_truncate") == 0)
			found++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found < 2;
}

/*
 * May the current command, which has a restore shape (the caller checked
 * it), run on relid?  Only on unsealed storage, for a role with the
 * privileges of the extension owner.
 */
static bool
kg_restore_allowed(Oid relid)
{
	return OidIsValid(relid) &&
		has_privs_of_role(GetUserId(), kg_extension_owner()) &&
		kg_storage_unsealed(relid);
}

/*
 * ERROR if relid is protected storage and the extension is not running the
 * command; with restore_shape, unsealed storage being restored passes.
 */
static void
kg_refuse_relid_restore(Oid relid, const char *relname, const char *what, bool restore_shape)
{
	const KgProtectedStorage *storage = kg_protected_storage_of(relid);

	if (storage == NULL)
		return;
	if (kg_extension_script_running())
		return;
	/* the owner lookup needs the extension: only ask inside kg_catalog_enter */
	if (kg_internal_ddl_depth > 0 && kg_internal_ddl_running())
		return;
	if (restore_shape && kg_restore_allowed(relid))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("AccessDeniedException: cannot %s the %s of a %s", what,
					storage->storage_noun, storage->object_noun),
			 errdetail("Relation \"%s\" belongs to a kinesis_glue %s.", relname, storage->object_noun),
			 errhint("%s", storage->hint)));
}

/* kg_refuse_relid_restore for a command that has no restore shape */
static void
kg_refuse_relid(Oid relid, const char *relname, const char *what)
{
	kg_refuse_relid_restore(relid, relname, what, false);
}

/* kg_refuse_relid_restore for a name as written in the command (absent: nothing to guard). */
static void
kg_refuse_rangevar_restore(RangeVar *rv, const char *what, bool restore_shape)
{
	if (rv == NULL)
		return;
	kg_refuse_relid_restore(RangeVarGetRelid(rv, NoLock, true), rv->relname, what, restore_shape);
}

/* kg_refuse_relid for a name as written in the command (absent: nothing to guard). */
static void
kg_refuse_rangevar(RangeVar *rv, const char *what)
{
	kg_refuse_rangevar_restore(rv, what, false);
}

/*
 * Has this ALTER TABLE / INDEX the shape of a restore: only OWNER TO the
 * extension owner, SET STORAGE and ATTACH PARTITION?
 */
static bool
kg_alter_restore_shape(AlterTableStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_ChangeOwner)
		{
			if (get_rolespec_oid(cmd->newowner, true) != kg_extension_owner())
				return false;
		}
		else if (cmd->subtype != AT_SetStorage && cmd->subtype != AT_AttachPartition)
			return false;
	}
	return true;
}

/*
 * Has this CREATE INDEX the shape of the extension's own indexes (plain
 * btree on columns, nothing that runs code or constrains the puts)?
 */
static bool
kg_index_restore_shape(IndexStmt *stmt)
{
	ListCell   *lc;

	if (stmt->whereClause || stmt->indexIncludingParams || stmt->unique ||
		stmt->primary || stmt->isconstraint || stmt->excludeOpNames ||
		(stmt->accessMethod && strcmp(stmt->accessMethod, "btree") != 0))
		return false;
	foreach(lc, stmt->indexParams)
	{
		IndexElem  *elem = lfirst_node(IndexElem, lc);

		if (elem->name == NULL || elem->expr || elem->collation || elem->opclass ||
			elem->opclassopts)
			return false;
	}
	return true;
}

/* Does this CREATE TRIGGER run one of the extension's own trigger functions? */
static bool
kg_trigger_restore_shape(CreateTrigStmt *stmt)
{
	char	   *schema;
	char	   *name;

	DeconstructQualifiedName(stmt->funcname, &schema, &name);
	if (schema == NULL || stmt->whenClause || stmt->transitionRels)
		return false;
	for (int i = 0; i < nprotected_storage; i++)
		if (strcmp(schema, protected_storage[i]->trigger_schema) == 0 &&
			strcmp(name, protected_storage[i]->trigger_function) == 0)
			return true;
	return false;
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
	bool		restore = kg_alter_restore_shape(stmt);

	kg_refuse_rangevar_restore(stmt->relation, "alter", restore);
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if ((cmd->subtype == AT_AddInherit || cmd->subtype == AT_DropInherit) && cmd->def)
			kg_refuse_rangevar((RangeVar *) cmd->def, "inherit from");
		else if ((cmd->subtype == AT_AttachPartition || cmd->subtype == AT_DetachPartition) &&
				 cmd->def)
			kg_refuse_rangevar_restore(((PartitionCmd *) cmd->def)->name, "attach or detach",
									   restore && cmd->subtype == AT_AttachPartition);
	}
}

/* CREATE TABLE ... PARTITION OF / INHERITS (also foreign tables) */
static void
kg_guard_create_table(CreateStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->inhRelations)
		kg_refuse_rangevar_restore(lfirst_node(RangeVar, lc),
								   stmt->partbound ? "create a partition of" : "inherit from",
								   stmt->partbound != NULL && stmt->constraints == NIL &&
								   stmt->tableElts == NIL);
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
	/*
	 * pg_upgrade's restore of the schema (the only connections a server in
	 * binary-upgrade mode accepts) recreates the storage with its OIDs.
	 */
	if (IsBinaryUpgrade)
		return;
	switch (nodeTag(parsetree))
	{
		case T_DropStmt:
			kg_guard_drop((DropStmt *) parsetree);
			break;
		case T_AlterTableStmt:
			kg_guard_alter_table((AlterTableStmt *) parsetree);
			break;
		case T_IndexStmt:
			kg_refuse_rangevar_restore(((IndexStmt *) parsetree)->relation, "index",
									   kg_index_restore_shape((IndexStmt *) parsetree));
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
			kg_refuse_rangevar_restore(((CreateTrigStmt *) parsetree)->relation, "create a trigger on",
									   kg_trigger_restore_shape((CreateTrigStmt *) parsetree));
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
