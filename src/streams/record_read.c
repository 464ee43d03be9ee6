/*-------------------------------------------------------------------------
 *
 * record_read.c
 *		get_records, get_records_rows and read_shard: a read of one shard
 *		from a shard iterator or a sequence number, in steps (KgRecordRead
 *		over read.c's KgShardReader).  The SQL functions drain it into
 *		their result (get_records into its array, the others into their
 *		tuplestore); the KinesisRecordScan node (record_scan.c) hands the
 *		same read to the executor row by row, without a tuplestore, through
 *		the providers registered at the end of this file (get_records: its
 *		one row, with the array as built).
 *
 * Iterators are stateless positions (iterator.c): reusing one returns the
 * same records; every call returns a new token.  Reads never return records
 * beyond the last stable sequence (read.c).  A read is charged to the
 * shard's read quota when it ends (kg_record_read_end), with the bytes it
 * returned.
 *
 * Locking: see read.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "common/kg_errors.h"
#include "streams/record_read.h"
#include "streams/record_scan.h"
#include "streams/standby.h"
#include "streams/stream_cache.h"
#include "streams/streams.h"

#define KG_GET_MAX_RECORDS 10000
#define KG_GET_MAX_BYTES (10 * 1024 * 1024)

/*
 * Admit a read of a shard under its read quota (when enforced), or raise
 * ProvisionedThroughputExceededException.  Returns the meter to charge.
 */
static KgShardMeter *
kg_admit_read(KgStream *s, KgShard *sh)
{
	KgShardMeter *m;

	if (!kg_stream_quotas_on(s))
		return NULL;
	m = kg_meter_get(s->stream_id, sh->shard_index);
	if (m != NULL && !kg_meter_admit_read(m))
		ereport(ERROR,
				(errcode(KG_THROUGHPUT_EXCEEDED),
				 errmsg("ProvisionedThroughputExceededException: rate exceeded for shard %s in stream \"%s\"",
						kg_shard_id_string(sh->shard_index), s->name),
				 errdetail("A shard serves 5 read calls and 2 MiB per second."),
				 errhint("Read less often, or with a larger limit.")));
	return m;
}

static void
kg_check_limit(int limit)
{
	if (limit < 1 || limit > KG_GET_MAX_RECORDS)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: limit must be between 1 and %d", KG_GET_MAX_RECORDS),
				 errdetail("The limit given was %d.", limit)));
}

/*
 * Begin the read of read_shard(stream_name, shard_id, after_sequence_number,
 * "limit") (fcinfo's arguments; NULL after_sequence_number: from the trim
 * horizon, NULL limit: 1000), whose rows have row_desc.
 */
void
kg_record_read_shard_begin(KgRecordRead *rr, FunctionCallInfo fcinfo, TupleDesc row_desc)
{
	KgStream   *s;
	KgShard    *sh;
	int			limit = PG_ARGISNULL(3) ? 1000 : PG_GETARG_INT32(3);
	int64		after;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: stream name and shard id must not be null")));
	kg_check_limit(limit);
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	kg_check_read_privilege(s);
	sh = kg_require_shard(s, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	if (PG_ARGISNULL(2))
		after = kg_trim_position(s, sh);
	else
	{
		after = PG_GETARG_INT64(2);
		kg_check_sequence_for_shard(sh, after, "after sequence number");
	}

	memset(rr, 0, sizeof(*rr));
	kg_record_rows_init(&rr->rows, row_desc, sh->shard_index);
	rr->meter = kg_admit_read(s, sh);
	kg_shard_reader_begin(&rr->reader, s, sh, after, limit, KG_GET_MAX_BYTES);
}

/*
 * The stream and shard of an iterator, or ResourceNotFoundException; with
 * check_privilege, AccessDeniedException unless the caller may read it.
 */
static KgStream *
kg_iterator_stream(const KgIterator *it, bool check_privilege, KgShard **sh)
{
	KgStream   *s = kg_stream_get_by_id(it->stream_id, true);

	if (s == NULL || s->created_at != it->stream_created)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: shard %s of the iterator's stream does not exist",
						kg_shard_id_string(it->shard_index)),
				 errdetail("The stream was deleted after the iterator was issued.")));
	if (check_privilege)
		kg_check_read_privilege(s);
	*sh = kg_stream_find_shard(s, it->shard_index);
	if (*sh == NULL)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: shard %s in stream \"%s\" does not exist",
						kg_shard_id_string(it->shard_index), s->name)));
	return s;
}

/*
 * Begin the read of get_records(shard_iterator, "limit") (fcinfo's
 * arguments 0 and 1; NULL limit: 10,000), whose record rows have row_desc.
 * With wait_ms > 0 and nothing to read, it sleeps until a producer of the
 * stream commits (or the wait is over) and looks again: the read it
 * returns has a record to return, or is the shard's end, or waited enough.
 */
void
kg_record_read_iterator_begin(KgRecordRead *rr, FunctionCallInfo fcinfo, int64 wait_ms,
							  TupleDesc row_desc)
{
	KgIterator	it;
	KgStream   *s;
	KgShard    *sh;
	KgStreamState *state;
	int			limit = PG_ARGISNULL(1) ? KG_GET_MAX_RECORDS : PG_GETARG_INT32(1);
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: shard iterator must not be null")));
	kg_check_limit(limit);
	kg_iterator_decode(text_to_cstring(PG_GETARG_TEXT_PP(0)), &it);
	s = kg_iterator_stream(&it, true, &sh);

	memset(rr, 0, sizeof(*rr));
	rr->from_iterator = true;
	rr->it = it;
	kg_record_rows_init(&rr->rows, row_desc, sh->shard_index);
	rr->meter = kg_admit_read(s, sh);
	state = s->state;			/* shared memory: stays valid */
	for (;;)
	{
		long		remaining;

		if (wait_ms > 0)
			ConditionVariablePrepareToSleep(&state->commit_cv);
		kg_shard_reader_begin(&rr->reader, s, sh, it.position, limit, KG_GET_MAX_BYTES);
		if (wait_ms == 0 || kg_shard_reader_peek(&rr->reader) || rr->reader.res.shard_end)
			break;
		remaining = (long) ((deadline - GetCurrentTimestamp()) / 1000);
		if (remaining <= 0)
			break;
		if (RecoveryInProgress())	/* no wake-up on replay: poll the bound */
			remaining = Min(remaining, kg_standby_poll_ms());
		(void) ConditionVariableTimedSleep(&state->commit_cv, remaining, PG_WAIT_EXTENSION);
		/* the reader looked up the stream again: so do we */
		s = kg_iterator_stream(&it, false, &sh);
	}
	if (wait_ms > 0)
		ConditionVariableCancelSleep();
}

/* The wait argument of get_records (argument 2) in milliseconds; NULL: 0. */
int64
kg_record_read_wait_argument(FunctionCallInfo fcinfo)
{
	int64		wait_ms;

	if (PG_NARGS() < 3 || PG_ARGISNULL(2))
		return 0;
	wait_ms = kg_interval_usecs(PG_GETARG_INTERVAL_P(2)) / 1000;
	if (wait_ms < 0 || wait_ms > 3600 * 1000)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: wait must be between 0 and 1 hour")));
	return wait_ms;
}

/*
 * What an iterator read returns besides its records (once
 * kg_record_read_next returned false): the next iterator, or at a closed
 * shard's end its children; how far behind the tip the read stopped.
 */
void
kg_record_read_result(KgRecordRead *rr, KgGetResult *out)
{
	KgReadResult *res = &rr->reader.res;
	KgIterator	it = rr->it;

	Assert(rr->from_iterator && rr->reader.done);
	memset(out, 0, sizeof(*out));
	if (res->shard_end)
	{
		/* closed shard read to its end: no next iterator, name the children */
		KgShard    *sh;
		KgStream   *s = kg_iterator_stream(&it, false, &sh);
		Datum	   *children = palloc(sizeof(Datum) * Max(s->nshards, 1));
		int			nchildren = 0;

		for (int i = 0; i < s->nshards; i++)
			if (s->shards[i].parent_index == it.shard_index ||
				s->shards[i].adjacent_parent_index == it.shard_index)
				children[nchildren++] = CStringGetTextDatum(kg_shard_id_string(s->shards[i].shard_index));
		out->child_shards = PointerGetDatum(construct_array(children, nchildren, TEXTOID, -1, false, TYPALIGN_INT));
	}
	else
	{
		it.position = res->next_position;
		it.issued_at = GetCurrentTimestamp();
		out->next_shard_iterator = CStringGetTextDatum(kg_iterator_encode(&it));
	}
	out->millis_behind_latest = res->more && res->count > 0 ?
		Max((GetCurrentTimestamp() - res->last_arrival) / 1000, 0) : 0;
}

/* End the read (at its end or early) and charge the shard's read quota. */
void
kg_record_read_end(KgRecordRead *rr)
{
	if (rr->ended)
		return;
	rr->ended = true;
	kg_shard_reader_end(&rr->reader);
	if (rr->meter)
		kg_meter_debit_read(rr->meter, rr->reader.res.bytes);
}

/*
 * get_records' array of kinesis.record, built in place: each record is
 * copied from its stored row where it can be (record_rows.c), else formed
 * with external values fetched, as HeapTupleGetDatum would.
 */
typedef struct KgRecordArray
{
	int			n;
	char	   *buf;			/* the array being built (zeroed ahead) */
	Size		len;			/* bytes of buf used */
	Size		cap;			/* bytes of buf allocated */
	char		elemalign;		/* typalign of kinesis.record */
} KgRecordArray;

/* Bytes before the first element of a one-dimensional array without nulls. */
#define KG_ARRAY_HEADER ARR_OVERHEAD_NONULLS(1)

/* Append rec's composite to a; buf is zeroed ahead, so the padding is zero. */
static void
kg_record_array_append(KgRecordArray *a, KgRecordRows *rows, const KgStoredRecord *rec)
{
	HeapTuple	tup = NULL;
	Size		len = kg_record_rows_copy_len(rows, rec);
	Size		start;
	Size		end;			/* with the padding after it */

	if (len == 0)
	{
		tup = kg_record_rows_form(rows, rec, true);
		Assert(!HeapTupleHasExternal(tup));
		len = tup->t_len;
	}
	start = att_align_nominal(a->len, a->elemalign);
	end = att_align_nominal(start + len, a->elemalign);
	if (end > a->cap)
	{
		Size		newcap = Max(a->cap * 2, end);

		if (newcap > MaxAllocSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("get_records result exceeds the maximum allowed size (%d bytes)", (int) MaxAllocSize)));
		a->buf = repalloc(a->buf, newcap);
		memset(a->buf + a->cap, 0, newcap - a->cap);
		a->cap = newcap;
	}
	if (tup != NULL)
	{
		memcpy(a->buf + start, tup->t_data, len);
		heap_freetuple(tup);
	}
	else
		kg_record_rows_copy(rows, rec, (HeapTupleHeader) (a->buf + start), len);
	a->len = start + len;
	a->n++;
}

/* The array of records appended. */
static Datum
kg_record_array_datum(KgRecordArray *a, Oid record_type)
{
	ArrayType  *arr = (ArrayType *) a->buf;
	Size		total = att_align_nominal(a->len, a->elemalign);

	if (a->n == 0)
		return PointerGetDatum(construct_empty_array(record_type));
	Assert(total <= a->cap);
	SET_VARSIZE(arr, total);
	arr->ndim = 1;
	arr->dataoffset = 0;
	arr->elemtype = record_type;
	ARR_DIMS(arr)[0] = a->n;
	ARR_LBOUND(arr)[0] = 1;
	return PointerGetDatum(arr);
}

static Datum kg_get_records_internal(FunctionCallInfo fcinfo, int64 wait_ms);

PG_FUNCTION_INFO_V1(kg_get_records);

/*
 * kinesis.get_records(shard_iterator, "limit") -> kinesis.get_records_result
 */
Datum
kg_get_records(PG_FUNCTION_ARGS)
{
	return kg_get_records_internal(fcinfo, 0);
}

PG_FUNCTION_INFO_V1(kg_get_records_wait);

/*
 * kinesis.get_records(shard_iterator, "limit", wait): as get_records, but
 * when nothing is readable it sleeps until a producer of the stream commits
 * (or the wait is over) and looks again.
 */
Datum
kg_get_records_wait(PG_FUNCTION_ARGS)
{
	return kg_get_records_internal(fcinfo, kg_record_read_wait_argument(fcinfo));
}

/*
 * get_records' read: its four values (records, next_shard_iterator,
 * millis_behind_latest, child_shards) for a result of type resdesc, in the
 * current memory context.
 */
static void
kg_get_records_values(FunctionCallInfo fcinfo, int64 wait_ms, TupleDesc resdesc, Datum *values,
					  bool *nulls)
{
	Oid			record_type;
	KgRecordRead rr;
	KgRecordArray a;
	KgStoredRecord rec;
	KgGetResult out;
	int16		typlen;
	bool		typbyval;

	if (resdesc->natts != 4)
		elog(ERROR, "return type of get_records must have 4 columns");
	record_type = get_element_type(TupleDescAttr(resdesc, 0)->atttypid);
	memset(&a, 0, sizeof(a));
	get_typlenbyvalalign(record_type, &typlen, &typbyval, &a.elemalign);
	kg_record_read_iterator_begin(&rr, fcinfo, wait_ms, lookup_rowtype_tupdesc_copy(record_type, -1));
	a.cap = KG_ARRAY_HEADER + (Size) Min(rr.reader.limit, 256) * 256;
	a.buf = palloc0(a.cap);		/* zeroed: padding between records */
	a.len = KG_ARRAY_HEADER;
	while (kg_record_read_next(&rr, &rec))
		kg_record_array_append(&a, &rr.rows, &rec);
	kg_record_read_end(&rr);
	kg_record_read_result(&rr, &out);

	values[0] = kg_record_array_datum(&a, record_type);
	nulls[0] = false;
	values[1] = out.next_shard_iterator;
	nulls[1] = out.next_shard_iterator == (Datum) 0;
	values[2] = Int64GetDatum(out.millis_behind_latest);
	nulls[2] = false;
	values[3] = out.child_shards;
	nulls[3] = out.child_shards == (Datum) 0;
}

static Datum
kg_get_records_internal(FunctionCallInfo fcinfo, int64 wait_ms)
{
	TupleDesc	resdesc;
	Datum		values[4];
	bool		nulls[4];

	if (get_call_result_type(fcinfo, NULL, &resdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type of get_records must be composite");
	kg_get_records_values(fcinfo, wait_ms, resdesc, values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(resdesc), values, nulls)));
}

/*
 * The last row of get_records_rows (desc's columns: kinesis.record's, then
 * next_shard_iterator, millis_behind_latest, child_shards): the record
 * columns NULL, the rest from out.
 */
void
kg_get_records_last_row(TupleDesc desc, const KgGetResult *out, Datum *values, bool *nulls)
{
	for (int i = 0; i < desc->natts; i++)
	{
		values[i] = (Datum) 0;
		nulls[i] = true;
	}
	values[KG_STORED_NATTS] = out->next_shard_iterator;
	nulls[KG_STORED_NATTS] = out->next_shard_iterator == (Datum) 0;
	values[KG_STORED_NATTS + 1] = Int64GetDatum(out->millis_behind_latest);
	nulls[KG_STORED_NATTS + 1] = false;
	values[KG_STORED_NATTS + 2] = out->child_shards;
	nulls[KG_STORED_NATTS + 2] = out->child_shards == (Datum) 0;
}

PG_FUNCTION_INFO_V1(kg_get_records_rows);

/*
 * kinesis.get_records_rows(shard_iterator, "limit", wait) -> SETOF
 * kinesis.get_records_row: what get_records returns, as rows: one per
 * record (next_shard_iterator, millis_behind_latest and child_shards NULL),
 * then always one last row whose record columns are NULL and that holds
 * next_shard_iterator, millis_behind_latest and child_shards.  No array is
 * built and none is taken apart again.  (In FROM, KinesisRecordScan
 * usually runs it instead: record_scan.c.)
 */
Datum
kg_get_records_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KgRecordRead rr;
	KgStoredRecord rec;
	KgGetResult out;
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	desc = rsinfo->setDesc;
	if (desc->natts != KG_STORED_NATTS + 3)
		elog(ERROR, "return type of get_records_rows must have %d columns", KG_STORED_NATTS + 3);
	kg_record_read_iterator_begin(&rr, fcinfo, kg_record_read_wait_argument(fcinfo), desc);
	while (kg_record_read_next(&rr, &rec))
		kg_record_rows_put(&rr.rows, &rec, rsinfo->setResult);
	kg_record_read_end(&rr);
	kg_record_read_result(&rr, &out);

	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	kg_get_records_last_row(desc, &out, values, nulls);
	tuplestore_putvalues(rsinfo->setResult, desc, values, nulls);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(kg_read_shard);

/*
 * kinesis.read_shard(stream_name, shard_id, after_sequence_number, "limit")
 * -> SETOF kinesis.record.  NULL after_sequence_number: from the trim
 * horizon.  (In FROM, KinesisRecordScan usually runs it instead.)
 */
Datum
kg_read_shard(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KgRecordRead rr;
	KgStoredRecord rec;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	kg_record_read_shard_begin(&rr, fcinfo, rsinfo->setDesc);
	while (kg_record_read_next(&rr, &rec))
		kg_record_rows_put(&rr.rows, &rec, rsinfo->setResult);
	kg_record_read_end(&rr);
	return (Datum) 0;
}

/*
 * KinesisRecordScan's steps for read_shard and get_records_rows
 * (record_scan.h): the same read, a row per step.
 */
typedef struct KgRecordReadScan
{
	KgRecordRead rr;
	bool		through;		/* the records are (the read is ended) */
	bool		last_row;		/* get_records_rows: its last row is to come */
} KgRecordReadScan;

static void
kg_read_shard_scan_begin(void *state, FunctionCallInfo fcinfo, TupleDesc desc)
{
	kg_record_read_shard_begin(&((KgRecordReadScan *) state)->rr, fcinfo, desc);
}

static void
kg_get_records_rows_scan_begin(void *state, FunctionCallInfo fcinfo, TupleDesc desc)
{
	KgRecordReadScan *st = (KgRecordReadScan *) state;

	kg_record_read_iterator_begin(&st->rr, fcinfo, kg_record_read_wait_argument(fcinfo), desc);
	st->last_row = true;
}

/*
 * The next record (its values pointing at the stored row, external ones
 * fetched into row_cxt), then for get_records_rows its last row.
 */
static bool
kg_record_read_scan_next(void *state, Datum *values, bool *nulls, MemoryContext row_cxt)
{
	KgRecordReadScan *st = (KgRecordReadScan *) state;
	KgStoredRecord rec;
	MemoryContext old;

	if (!st->through && kg_record_read_next(&st->rr, &rec))
	{
		kg_record_rows_slot_values(&st->rr.rows, &rec, values, nulls, row_cxt);
		return true;
	}
	if (!st->through)
		kg_record_read_end(&st->rr);
	st->through = true;
	if (st->last_row)
	{
		KgGetResult out;

		st->last_row = false;
		old = MemoryContextSwitchTo(row_cxt);
		kg_record_read_result(&st->rr, &out);
		kg_get_records_last_row(st->rr.rows.desc, &out, values, nulls);
		MemoryContextSwitchTo(old);
		return true;
	}
	return false;
}

static void
kg_record_read_scan_end(void *state)
{
	kg_record_read_end(&((KgRecordReadScan *) state)->rr);
}

static const KgRecordScanProvider kg_read_shard_scan = {
	.symbol = "kg_read_shard",
	.nargs = 4,
	.retset = true,
	.argtypes = {TEXTOID, TEXTOID, INT8OID, INT4OID},
	.natts = KG_STORED_NATTS,
	.name = "kinesis.read_shard",
	.state_size = sizeof(KgRecordReadScan),
	.begin = kg_read_shard_scan_begin,
	.next = kg_record_read_scan_next,
	.end = kg_record_read_scan_end,
};

static const KgRecordScanProvider kg_get_records_rows_scan = {
	.symbol = "kg_get_records_rows",
	.nargs = 3,
	.retset = true,
	.argtypes = {TEXTOID, INT4OID, INTERVALOID},
	.natts = KG_STORED_NATTS + 3,
	.name = "kinesis.get_records_rows",
	.state_size = sizeof(KgRecordReadScan),
	.begin = kg_get_records_rows_scan_begin,
	.next = kg_record_read_scan_next,
	.end = kg_record_read_scan_end,
};

/*
 * KinesisRecordScan's steps for get_records (with and without wait): its
 * one row, whose records array goes to the statement as built, without
 * being copied into a composite and into a function scan's tuplestore
 * (the outer side of `FROM kinesis.get_records(...) g, unnest(g.records)`,
 * unnest_scan.c).
 */
static void
kg_get_records_scan_begin(void *state, FunctionCallInfo fcinfo, TupleDesc desc)
{
	KgRecordScanRow *row = (KgRecordScanRow *) state;

	Assert(desc->natts <= KG_RECORD_SCAN_ROW_MAX_ATTS);
	row->natts = desc->natts;
	kg_get_records_values(fcinfo, kg_record_read_wait_argument(fcinfo), desc, row->values, row->nulls);
}

/* The array goes with the read (a rescan reads again). */
static void
kg_get_records_scan_end(void *state)
{
	KgRecordScanRow *row = (KgRecordScanRow *) state;

	if (!row->nulls[0] && row->values[0] != (Datum) 0)
		pfree(DatumGetPointer(row->values[0]));
	row->values[0] = (Datum) 0;
}

/* what the two get_records reads share */
#define KG_GET_RECORDS_STEPS \
	.retset = false, \
	.natts = 4, \
	.name = "kinesis.get_records", \
	.state_size = sizeof(KgRecordScanRow), \
	.begin = kg_get_records_scan_begin, \
	.next = kg_record_scan_row_next, \
	.end = kg_get_records_scan_end

static const KgRecordScanProvider kg_get_records_scan = {
	.symbol = "kg_get_records",
	.nargs = 2,
	.argtypes = {TEXTOID, INT4OID},
	KG_GET_RECORDS_STEPS
};

static const KgRecordScanProvider kg_get_records_wait_scan = {
	.symbol = "kg_get_records_wait",
	.nargs = 3,
	.argtypes = {TEXTOID, INT4OID, INTERVALOID},
	KG_GET_RECORDS_STEPS
};

/* Register the reads with KinesisRecordScan (from kg_streams_init). */
void
kg_record_read_register_scans(void)
{
	kg_record_scan_register(&kg_read_shard_scan);
	kg_record_scan_register(&kg_get_records_rows_scan);
	kg_record_scan_register(&kg_get_records_scan);
	kg_record_scan_register(&kg_get_records_wait_scan);
}
