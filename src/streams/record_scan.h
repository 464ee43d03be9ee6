/*-------------------------------------------------------------------------
 *
 * record_scan.h
 *		The reads a KinesisRecordScan runs (record_scan.c): each component
 *		registers its set-returning C functions that can hand their rows on
 *		one by one, with the steps that do it.
 *
 * Locking: as the provider's read.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_RECORD_SCAN_H
#define KG_RECORD_SCAN_H

#include "fmgr.h"
#include "access/tupdesc.h"
#include "nodes/extensible.h"
#include "nodes/pathnodes.h"

#define KG_RECORD_SCAN_MAX_ARGS 5

/*
 * A read the scan runs in place of a function scan of the function that
 * has this symbol in this library and these argument types, whose rows
 * have natts columns (a function that is not SETOF returns one row: its
 * composite's columns, never NULL).  The steps run in the query's memory; state is
 * state_size bytes, zeroed, of that memory.
 *
 * begin: start the read with the evaluated arguments (fcinfo->args), rows
 *		of desc.  Runs under the function's SET clause (proconfig).
 * next: the next row into values/nulls (values valid until the next step;
 *		whatever must be allocated for them goes into row_cxt); false at
 *		the end.  Runs without the SET clause: providers whose next step
 *		runs SQL pin what it needs themselves.
 * end: end the read, early or after its end (once after begin).  Runs
 *		under the SET clause.  NULL: nothing to end.
 *
 * A read of one row computed by its begin step (kinesis.get_records,
 * kinesis.put_record) keeps it in a KgRecordScanRow at the start of its
 * state and takes kg_record_scan_row_next as its next step.
 */
typedef struct KgRecordScanProvider
{
	const char *symbol;			/* pg_proc.prosrc */
	int			nargs;
	Oid			argtypes[KG_RECORD_SCAN_MAX_ARGS];
	bool		retset;			/* SETOF (else one row of a composite) */
	const char *proconfig;		/* the function's one SET clause, as pg_proc
								 * holds it ("name=value"); NULL: none */
	int			natts;
	const char *name;			/* for EXPLAIN */
	Size		state_size;
	void		(*begin) (void *state, FunctionCallInfo fcinfo, TupleDesc desc);
	bool		(*next) (void *state, Datum *values, bool *nulls, MemoryContext row_cxt);
	void		(*end) (void *state);
} KgRecordScanProvider;

#define KG_RECORD_SCAN_ROW_MAX_ATTS 4

/* the one row of a read that has one, filled by its begin step */
typedef struct KgRecordScanRow
{
	int			natts;
	Datum		values[KG_RECORD_SCAN_ROW_MAX_ATTS];
	bool		nulls[KG_RECORD_SCAN_ROW_MAX_ATTS];
	bool		returned;
} KgRecordScanRow;

extern void kg_record_scan_register(const KgRecordScanProvider *provider);
extern bool kg_record_scan_row_next(void *state, Datum *values, bool *nulls, MemoryContext row_cxt);

/* planning a scan of a function RTE (also unnest_scan.c's) */
extern bool kg_scan_refers_to_whole_row(RelOptInfo *rel, Index rti);
extern CustomScan *kg_scan_function_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
										 List *tlist, List *clauses,
										 const CustomScanMethods *methods);

#endif							/* KG_RECORD_SCAN_H */
