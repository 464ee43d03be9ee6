/*-------------------------------------------------------------------------
 *
 * unnest_scan.c
 *		KinesisRecordUnnest: unnest() of a kinesis.record[] in FROM (the
 *		records of get_records, `FROM kinesis.get_records(...) g,
 *		unnest(g.records) r`) without a function scan's tuplestore.
 *
 * A function scan of unnest() calls it once per element, copies each
 * element (a whole kinesis.record row) into a tuplestore, and then reads
 * every row back and takes it apart: for 10,000 records that is about a
 * fifth of the work of returning them to a client, and 2.7 MB of memory
 * written and read again.  The planner hook below offers next to that
 * function scan a CustomScan that walks the array itself and takes each
 * element apart straight into the scan tuple, whose values point into the
 * array (valid while the array is: the outer row of a LATERAL reference,
 * or the node's own copy of a compressed array).
 *
 * Offered only where it means the same as the function scan: the one
 * function of its FROM item is the built-in unnest(anyarray) of a
 * kinesis.record[] (the row type of this extension's kinesis schema),
 * without ORDINALITY, whose argument has no subquery and nothing volatile
 * (the node evaluates it again at each rescan, where the function scan
 * would keep its rows), and the query refers to the columns one by one.
 * Its argument may refer to other relations of the query (LATERAL): the
 * path is then parameterized by them, as the function scan's is.  unnest is
 * strict: a NULL array gives no rows; a NULL element gives a row of NULLs.
 * kinesis_glue.enable_record_scan = off turns it off.
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "streams/record_scan.h"
#include "streams/streams.h"

#define KG_RECORD_UNNEST "KinesisRecordUnnest"

typedef struct KgUnnestState
{
	CustomScanState css;
	ExprState  *arg;			/* the array */
	TupleDesc	elem_desc;		/* of kinesis.record */
	MemoryContext array_cxt;	/* a detoasted array; reset per scan */
	bool		started;
	bool		done;
	array_iter	iter;
	int			nitems;
	int			next_item;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
} KgUnnestState;

static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;

static Plan *kg_unnest_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
							List *tlist, List *clauses, List *custom_plans);
static Node *kg_unnest_create_state(CustomScan *cscan);
static void kg_unnest_begin(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *kg_unnest_exec(CustomScanState *node);
static void kg_unnest_end(CustomScanState *node);
static void kg_unnest_rescan(CustomScanState *node);
static void kg_unnest_explain(CustomScanState *node, List *ancestors, ExplainState *es);

static const CustomPathMethods kg_unnest_path_methods = {
	.CustomName = KG_RECORD_UNNEST,
	.PlanCustomPath = kg_unnest_plan,
};

static const CustomScanMethods kg_unnest_scan_methods = {
	.CustomName = KG_RECORD_UNNEST,
	.CreateCustomScanState = kg_unnest_create_state,
};

static const CustomExecMethods kg_unnest_exec_methods = {
	.CustomName = KG_RECORD_UNNEST,
	.BeginCustomScan = kg_unnest_begin,
	.ExecCustomScan = kg_unnest_exec,
	.EndCustomScan = kg_unnest_end,
	.ReScanCustomScan = kg_unnest_rescan,
	.ExplainCustomScan = kg_unnest_explain,
};

/* The type kinesis.record[], or InvalidOid when there is none. */
static Oid
kg_record_array_type(void)
{
	Oid			nsp = get_namespace_oid("kinesis", true);
	Oid			typid;

	if (!OidIsValid(nsp))
		return InvalidOid;
	typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("record"),
							ObjectIdGetDatum(nsp));
	return OidIsValid(typid) ? get_array_type(typid) : InvalidOid;
}

/*
 * set_rel_pathlist_hook: next to the function scan of unnest() of a
 * kinesis.record[], offer a KinesisRecordUnnest with the same
 * parameterization (see the file header for when), costed lower.
 */
static void
kg_unnest_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	RangeTblFunction *rtfunc;
	FuncExpr   *fexpr;
	Node	   *arg;
	TupleDesc	desc;
	ListCell   *lc;

	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);
	if (!kg_enable_record_scan || rte->rtekind != RTE_FUNCTION ||
		list_length(rte->functions) != 1 || rte->funcordinality || rel->pathlist == NIL)
		return;
	rtfunc = linitial_node(RangeTblFunction, rte->functions);
	if (!IsA(rtfunc->funcexpr, FuncExpr))
		return;
	fexpr = (FuncExpr *) rtfunc->funcexpr;
	if (fexpr->funcid != F_UNNEST_ANYARRAY || list_length(fexpr->args) != 1)
		return;
	arg = linitial(fexpr->args);
	if (exprType(arg) != kg_record_array_type() || contain_subplans(arg) ||
		contain_volatile_functions(arg))
		return;
	if (kg_scan_refers_to_whole_row(rel, rti))
		return;
	desc = get_expr_result_tupdesc((Node *) fexpr, true);
	if (desc == NULL || rtfunc->funccolcount != desc->natts)
		return;
	for (int i = 0; i < desc->natts; i++)
		if (TupleDescAttr(desc, i)->attisdropped)
			return;

	/* one path per function scan path (one per parameterization) */
	foreach(lc, rel->pathlist)
	{
		Path	   *fpath = (Path *) lfirst(lc);
		CustomPath *cpath;

		if (fpath->pathtype != T_FunctionScan)
			continue;
		cpath = makeNode(CustomPath);
		cpath->path.pathtype = T_CustomScan;
		cpath->path.parent = rel;
		cpath->path.pathtarget = rel->reltarget;
		cpath->path.param_info = fpath->param_info;
		cpath->path.parallel_aware = false;
		cpath->path.parallel_safe = fpath->parallel_safe;	/* as unnest() is */
		cpath->path.parallel_workers = 0;
		cpath->path.rows = fpath->rows;
		/* no tuplestore: below the function scan by more than add_path's fuzz */
		cpath->path.startup_cost = 0;
		cpath->path.total_cost = fpath->total_cost * 0.9;
		cpath->path.pathkeys = NIL;
		cpath->methods = &kg_unnest_path_methods;
		add_path(rel, &cpath->path);
		break;					/* add_path may have freed the list cell */
	}
}

/* The plan: kg_scan_function_plan's, the array as custom_exprs. */
static Plan *
kg_unnest_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
			   List *tlist, List *clauses, List *custom_plans)
{
	return &kg_scan_function_plan(root, rel, best_path, tlist, clauses, &kg_unnest_scan_methods)->scan.plan;
}

static Node *
kg_unnest_create_state(CustomScan *cscan)
{
	KgUnnestState *st = (KgUnnestState *) newNode(sizeof(KgUnnestState), T_CustomScanState);

	st->css.methods = &kg_unnest_exec_methods;
	return (Node *) st;
}

static void
kg_unnest_begin(CustomScanState *node, EState *estate, int eflags)
{
	KgUnnestState *st = (KgUnnestState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	Oid			elemtype;

	st->arg = ExecInitExpr(linitial(cscan->custom_exprs), &node->ss.ps);
	elemtype = get_element_type(exprType(linitial(cscan->custom_exprs)));
	st->elem_desc = lookup_rowtype_tupdesc_copy(elemtype, -1);
	if (st->elem_desc->natts != node->ss.ss_ScanTupleSlot->tts_tupleDescriptor->natts)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the row type %s changed since the statement was planned",
						format_type_be(elemtype)),
				 errhint("Run the statement again.")));
	get_typlenbyvalalign(elemtype, &st->elmlen, &st->elmbyval, &st->elmalign);
	st->array_cxt = AllocSetContextCreate(estate->es_query_cxt, "KinesisRecordUnnest",
										  ALLOCSET_DEFAULT_SIZES);
}

/* Evaluate the array and set up the walk over it (none: NULL array). */
static void
kg_unnest_start(KgUnnestState *st)
{
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
	MemoryContext old;
	Datum		value;
	bool		isnull;
	AnyArrayType *arr;

	st->started = true;
	st->next_item = 0;
	st->nitems = 0;
	MemoryContextReset(st->array_cxt);
	old = MemoryContextSwitchTo(st->array_cxt);
	value = ExecEvalExpr(st->arg, econtext, &isnull);
	if (!isnull)
	{
		/* a compressed or out-of-line array is fetched into array_cxt */
		arr = DatumGetAnyArrayP(value);
		st->nitems = ArrayGetNItems(AARR_NDIM(arr), AARR_DIMS(arr));
		array_iter_setup(&st->iter, arr);
	}
	MemoryContextSwitchTo(old);
}

/* The next element into the scan slot, taken apart; empty at the end. */
static TupleTableSlot *
kg_unnest_next(ScanState *ss)
{
	KgUnnestState *st = (KgUnnestState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;
	Datum		elem;
	bool		isnull;

	ExecClearTuple(slot);
	if (!st->started)
		kg_unnest_start(st);
	if (st->next_item >= st->nitems)
		return slot;
	elem = array_iter_next(&st->iter, &isnull, st->next_item++, st->elmlen, st->elmbyval,
						   st->elmalign);
	if (isnull)
	{
		for (int i = 0; i < slot->tts_tupleDescriptor->natts; i++)
			slot->tts_isnull[i] = true;
	}
	else
	{
		HeapTupleHeader td = (HeapTupleHeader) DatumGetPointer(elem);
		HeapTupleData tuple;

		/* array elements are never toasted on their own */
		Assert(!VARATT_IS_EXTENDED(td));
		tuple.t_len = HeapTupleHeaderGetDatumLength(td);
		ItemPointerSetInvalid(&tuple.t_self);
		tuple.t_tableOid = InvalidOid;
		tuple.t_data = td;
		heap_deform_tuple(&tuple, st->elem_desc, slot->tts_values, slot->tts_isnull);
	}
	return ExecStoreVirtualTuple(slot);
}

static bool
kg_unnest_recheck(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
kg_unnest_exec(CustomScanState *node)
{
	return ExecScan(&node->ss, kg_unnest_next, kg_unnest_recheck);
}

static void
kg_unnest_end(CustomScanState *node)
{
	KgUnnestState *st = (KgUnnestState *) node;

	MemoryContextDelete(st->array_cxt);
}

/* Walk the array again, evaluated anew (its argument is not volatile). */
static void
kg_unnest_rescan(CustomScanState *node)
{
	KgUnnestState *st = (KgUnnestState *) node;

	st->started = false;
	ExecScanReScan(&node->ss);
}

/* EXPLAIN VERBOSE: the call, as a function scan shows it. */
static void
kg_unnest_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *context;

	if (!es->verbose)
		return;
	context = set_deparse_context_plan(es->deparse_cxt, (Plan *) cscan, ancestors);
	ExplainPropertyText("Function Call",
						psprintf("unnest(%s)", deparse_expression(linitial(cscan->custom_exprs),
																  context, true, false)),
						es);
}

/*
 * Register the node (from kg_streams_init, in every process that loads
 * the library; kinesis_glue.enable_record_scan is record_scan.c's).
 */
void
kg_unnest_scan_init(void)
{
	RegisterCustomScanMethods(&kg_unnest_scan_methods);
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = kg_unnest_pathlist;
}
