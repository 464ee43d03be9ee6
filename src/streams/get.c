/*-------------------------------------------------------------------------
 *
 * get.c
 *		get_shard_iterator, get_records, read_shard, and the start position
 *		of a read_shard that resumes after a consumer's checkpoint (the
 *		positions themselves: read.c).
 *
 * Iterators are stateless positions (iterator.c): reusing one returns the
 * same records; every call returns a new token.  LATEST is fixed when the
 * iterator is issued.  All reads go through kg_read_shard_range (read.c),
 * which never returns records beyond the last stable sequence.
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
#include "streams/iterator.h"
#include "streams/read.h"
#include "streams/record_rows.h"
#include "streams/standby.h"
#include "streams/stream_cache.h"
#include "streams/throughput.h"

#define KG_GET_MAX_RECORDS 10000
#define KG_GET_MAX_BYTES (10 * 1024 * 1024)

static KgShard *
kg_require_shard(KgStream *s, const char *shard_id)
{
	int32		idx = kg_parse_shard_id(s->name, shard_id);
	KgShard    *sh = kg_stream_find_shard(s, idx);

	if (sh == NULL)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: shard %s in stream \"%s\" does not exist",
						kg_shard_id_string(idx), s->name),
				 errhint("See kinesis.list_shards().")));
	return sh;
}

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

static void
kg_check_sequence_for_shard(KgShard *sh, int64 seq, const char *what)
{
	if (seq < 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: %s %lld is invalid", what, (long long) seq)));
	if (KG_SEQ_SHARD(seq) != sh->shard_index)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: invalid %s; it encodes %s, while it was used in a call to a shard with %s",
						what, kg_shard_id_string(KG_SEQ_SHARD(seq)), kg_shard_id_string(sh->shard_index))));
}

PG_FUNCTION_INFO_V1(kg_get_shard_iterator);

/*
 * kinesis.get_shard_iterator(stream_name, shard_id, shard_iterator_type,
 * starting_sequence_number, "timestamp") -> text
 */
Datum
kg_get_shard_iterator(PG_FUNCTION_ARGS)
{
	KgStream   *s;
	KgShard    *sh;
	char	   *type;
	bool		has_seq = !PG_ARGISNULL(3);
	bool		has_ts = !PG_ARGISNULL(4);
	int64		seq = has_seq ? PG_GETARG_INT64(3) : 0;
	KgIterator	it;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: stream name, shard id and shard iterator type must not be null")));
	type = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(type, "TRIM_HORIZON") != 0 && strcmp(type, "LATEST") != 0 &&
		strcmp(type, "AT_SEQUENCE_NUMBER") != 0 && strcmp(type, "AFTER_SEQUENCE_NUMBER") != 0 &&
		strcmp(type, "AT_TIMESTAMP") != 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: shard iterator type \"%s\" is not one of AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON", type)));

	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	kg_check_read_privilege(s);
	sh = kg_require_shard(s, text_to_cstring(PG_GETARG_TEXT_PP(1)));

	if ((strcmp(type, "AT_SEQUENCE_NUMBER") == 0 || strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0))
	{
		if (!has_seq)
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: %s needs a starting sequence number", type),
					 errhint("Pass starting_sequence_number, or use TRIM_HORIZON or LATEST.")));
		kg_check_sequence_for_shard(sh, seq, "starting sequence number");
	}
	else if (has_seq)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: %s takes no starting sequence number", type),
				 errhint("Use AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER to start at a sequence number.")));
	if (strcmp(type, "AT_TIMESTAMP") == 0)
	{
		if (!has_ts)
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: AT_TIMESTAMP needs a timestamp")));
		if (PG_GETARG_TIMESTAMPTZ(4) > GetCurrentTimestamp())
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: the timestamp cannot be in the future"),
					 errdetail("The timestamp given was %s.", timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(4)))));
	}
	else if (has_ts)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: %s takes no timestamp", type)));

	if (strcmp(type, "TRIM_HORIZON") == 0)
		it.position = kg_trim_position(s, sh);
	else if (strcmp(type, "LATEST") == 0)
	{
		it.position = kg_position_latest(s, sh);
	}
	else if (strcmp(type, "AT_SEQUENCE_NUMBER") == 0)
		it.position = seq - 1;
	else if (strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0)
		it.position = seq;
	else
	{
		it.position = kg_position_at_time(s, sh, PG_GETARG_TIMESTAMPTZ(4));
	}

	it.stream_id = s->stream_id;
	it.stream_created = s->created_at;
	it.shard_index = sh->shard_index;
	it.issued_at = GetCurrentTimestamp();
	PG_RETURN_TEXT_P(cstring_to_text(kg_iterator_encode(&it)));
}

/*
 * Collects records as rows of kinesis.record (record_rows.c): get_records
 * writes them straight into the result array (one copy of each record),
 * read_shard and get_records_rows into their tuplestore.
 */
typedef struct KgRecordCollector
{
	KgRecordRows rows;
	int			n;
	char	   *buf;			/* get_records: the array being built */
	Size		len;			/* bytes of buf used */
	Size		cap;			/* bytes of buf allocated */
	char		elemalign;		/* typalign of kinesis.record */
	Tuplestorestate *store;		/* the others: rows go here instead */
} KgRecordCollector;

/* Bytes before the first element of a one-dimensional array without nulls. */
#define KG_ARRAY_HEADER ARR_OVERHEAD_NONULLS(1)

/*
 * Append rec's composite to the array of c, copied in place from the stored
 * row where it can be (record_rows.c), else formed with external values
 * fetched, as HeapTupleGetDatum would.  buf is zeroed ahead, so the padding
 * is zero.
 */
static void
kg_collect_append(KgRecordCollector *c, const KgStoredRecord *rec)
{
	HeapTuple	tup = NULL;
	Size		len = kg_record_rows_copy_len(&c->rows, rec);
	Size		start;
	Size		end;			/* with the padding after it */

	if (len == 0)
	{
		tup = kg_record_rows_form(&c->rows, rec, true);
		Assert(!HeapTupleHasExternal(tup));
		len = tup->t_len;
	}
	start = att_align_nominal(c->len, c->elemalign);
	end = att_align_nominal(start + len, c->elemalign);
	if (end > c->cap)
	{
		Size		newcap = Max(c->cap * 2, end);

		if (newcap > MaxAllocSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("get_records result exceeds the maximum allowed size (%d bytes)", (int) MaxAllocSize)));
		c->buf = repalloc(c->buf, newcap);
		memset(c->buf + c->cap, 0, newcap - c->cap);
		c->cap = newcap;
	}
	if (tup != NULL)
	{
		memcpy(c->buf + start, tup->t_data, len);
		heap_freetuple(tup);
	}
	else
		kg_record_rows_copy(&c->rows, rec, (HeapTupleHeader) (c->buf + start), len);
	c->len = start + len;
	c->n++;
}

/* The array of records collected by kg_collect_append. */
static Datum
kg_collect_array(KgRecordCollector *c, Oid record_type)
{
	ArrayType  *a = (ArrayType *) c->buf;
	Size		total = att_align_nominal(c->len, c->elemalign);

	if (c->n == 0)
		return PointerGetDatum(construct_empty_array(record_type));
	Assert(total <= c->cap);
	SET_VARSIZE(a, total);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = record_type;
	ARR_DIMS(a)[0] = c->n;
	ARR_LBOUND(a)[0] = 1;
	return PointerGetDatum(a);
}

static bool
kg_collect_sink(void *arg, const KgStoredRecord *rec)
{
	KgRecordCollector *c = (KgRecordCollector *) arg;

	if (c->store)
		kg_record_rows_put(&c->rows, rec, c->store);
	else
		kg_collect_append(c, rec);
	return true;
}

/* What a get_records call returns besides its records. */
typedef struct KgGetResult
{
	Datum		next_shard_iterator;	/* text; 0 when NULL */
	int64		millis_behind_latest;
	Datum		child_shards;	/* text[]; 0 when NULL */
} KgGetResult;

/*
 * The read of get_records and get_records_rows: the records after the
 * shard_iterator argument (argument 0; "limit" argument 1), waiting up to
 * wait_ms for the first, into c (set up by the caller but for its rows'
 * shard); the rest of the result into out.
 */
static void
kg_get_records_read(FunctionCallInfo fcinfo, int64 wait_ms, KgRecordCollector *c,
					TupleDesc row_desc, KgGetResult *out)
{
	KgIterator	it;
	KgStream   *s;
	KgShard    *sh;
	int			limit = PG_ARGISNULL(1) ? KG_GET_MAX_RECORDS : PG_GETARG_INT32(1);
	KgReadResult res;
	KgShardMeter *meter;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: shard iterator must not be null")));
	kg_check_limit(limit);
	kg_iterator_decode(text_to_cstring(PG_GETARG_TEXT_PP(0)), &it);

	s = kg_stream_get_by_id(it.stream_id, true);
	if (s == NULL || s->created_at != it.stream_created)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: shard %s of the iterator's stream does not exist",
						kg_shard_id_string(it.shard_index)),
				 errdetail("The stream was deleted after the iterator was issued.")));
	kg_check_read_privilege(s);
	sh = kg_stream_find_shard(s, it.shard_index);
	if (sh == NULL)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: shard %s in stream \"%s\" does not exist",
						kg_shard_id_string(it.shard_index), s->name)));
	kg_record_rows_init(&c->rows, row_desc, sh->shard_index);
	if (c->store == NULL)
	{
		c->cap = KG_ARRAY_HEADER + (Size) Min(limit, 256) * 256;
		c->buf = palloc0(c->cap);	/* zeroed: padding between records */
		c->len = KG_ARRAY_HEADER;
	}

	meter = kg_admit_read(s, sh);
	{
		TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);

		for (;;)
		{
			long		remaining;

			if (wait_ms > 0)
				ConditionVariablePrepareToSleep(&s->state->commit_cv);
			kg_read_shard_rows(s, sh, it.position, limit, KG_GET_MAX_BYTES,
							   kg_collect_sink, c, &res);
			if (res.count > 0 || res.shard_end || wait_ms == 0)
				break;
			remaining = (long) ((deadline - GetCurrentTimestamp()) / 1000);
			if (remaining <= 0)
				break;
			if (RecoveryInProgress())	/* no wake-up on replay: poll the bound */
				remaining = Min(remaining, kg_standby_poll_ms());
			(void) ConditionVariableTimedSleep(&s->state->commit_cv, remaining, PG_WAIT_EXTENSION);
		}
		if (wait_ms > 0)
			ConditionVariableCancelSleep();
	}
	if (meter)
		kg_meter_debit_read(meter, res.bytes);

	memset(out, 0, sizeof(*out));
	if (res.shard_end)
	{
		/* closed shard read to its end: no next iterator, name the children */
		Datum	   *children = palloc(sizeof(Datum) * Max(s->nshards, 1));
		int			nchildren = 0;

		for (int i = 0; i < s->nshards; i++)
			if (s->shards[i].parent_index == sh->shard_index ||
				s->shards[i].adjacent_parent_index == sh->shard_index)
				children[nchildren++] = CStringGetTextDatum(kg_shard_id_string(s->shards[i].shard_index));
		out->child_shards = PointerGetDatum(construct_array(children, nchildren, TEXTOID, -1, false, TYPALIGN_INT));
	}
	else
	{
		it.position = res.next_position;
		it.issued_at = GetCurrentTimestamp();
		out->next_shard_iterator = CStringGetTextDatum(kg_iterator_encode(&it));
	}
	out->millis_behind_latest = res.more && res.count > 0 ?
		Max((GetCurrentTimestamp() - res.last_arrival) / 1000, 0) : 0;
}

/* The wait argument of get_records (argument 2) in milliseconds; NULL: 0. */
static int64
kg_wait_argument(FunctionCallInfo fcinfo)
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
	return kg_get_records_internal(fcinfo, kg_wait_argument(fcinfo));
}

static Datum
kg_get_records_internal(FunctionCallInfo fcinfo, int64 wait_ms)
{
	TupleDesc	resdesc;
	Oid			record_type;
	KgRecordCollector c;
	KgGetResult out;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	int16		typlen;
	bool		typbyval;

	if (get_call_result_type(fcinfo, NULL, &resdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type of get_records must be composite");
	record_type = get_element_type(TupleDescAttr(resdesc, 0)->atttypid);
	memset(&c, 0, sizeof(c));
	get_typlenbyvalalign(record_type, &typlen, &typbyval, &c.elemalign);
	kg_get_records_read(fcinfo, wait_ms, &c, lookup_rowtype_tupdesc_copy(record_type, -1), &out);

	values[0] = kg_collect_array(&c, record_type);
	values[1] = out.next_shard_iterator;
	nulls[1] = out.next_shard_iterator == (Datum) 0;
	values[2] = Int64GetDatum(out.millis_behind_latest);
	values[3] = out.child_shards;
	nulls[3] = out.child_shards == (Datum) 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(resdesc), values, nulls)));
}

PG_FUNCTION_INFO_V1(kg_get_records_rows);

/*
 * kinesis.get_records_rows(shard_iterator, "limit", wait) -> SETOF
 * kinesis.get_records_row: what get_records returns, as rows: one per
 * record (next_shard_iterator, millis_behind_latest and child_shards NULL),
 * then always one last row whose record columns are NULL and that holds
 * next_shard_iterator, millis_behind_latest and child_shards.  No array is
 * built and none is taken apart again.
 */
Datum
kg_get_records_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KgRecordCollector c;
	KgGetResult out;
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	desc = rsinfo->setDesc;
	if (desc->natts != KG_STORED_NATTS + 3)
		elog(ERROR, "return type of get_records_rows must have %d columns", KG_STORED_NATTS + 3);
	memset(&c, 0, sizeof(c));
	c.store = rsinfo->setResult;
	kg_get_records_read(fcinfo, kg_wait_argument(fcinfo), &c, desc, &out);

	values = palloc0(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
		nulls[i] = i < KG_STORED_NATTS;
	values[KG_STORED_NATTS] = out.next_shard_iterator;
	nulls[KG_STORED_NATTS] = out.next_shard_iterator == (Datum) 0;
	values[KG_STORED_NATTS + 1] = Int64GetDatum(out.millis_behind_latest);
	values[KG_STORED_NATTS + 2] = out.child_shards;
	nulls[KG_STORED_NATTS + 2] = out.child_shards == (Datum) 0;
	tuplestore_putvalues(c.store, desc, values, nulls);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(kg_read_shard);

/*
 * kinesis.read_shard(stream_name, shard_id, after_sequence_number, "limit")
 * -> SETOF kinesis.record.  NULL after_sequence_number: from the trim horizon.
 */
Datum
kg_read_shard(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KgStream   *s;
	KgShard    *sh;
	int			limit = PG_ARGISNULL(3) ? 1000 : PG_GETARG_INT32(3);
	int64		after;
	KgRecordCollector c;
	KgReadResult res;
	KgShardMeter *meter;

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

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	memset(&c, 0, sizeof(c));
	c.store = rsinfo->setResult;
	kg_record_rows_init(&c.rows, rsinfo->setDesc, sh->shard_index);
	meter = kg_admit_read(s, sh);
	kg_read_shard_rows(s, sh, after, limit, KG_GET_MAX_BYTES, kg_collect_sink, &c, &res);
	if (meter)
		kg_meter_debit_read(meter, res.bytes);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(kg_read_shard_after_checkpoint);

/*
 * kinesis.read_shard_start(stream_name, shard_id, checkpoint) -> bigint:
 * the after_sequence_number that makes read_shard resume after a position
 * of kinesis.consumer_positions (a checkpoint, which may be a position
 * between records: the trim horizon of a new consumer, a LATEST or
 * AT_TIMESTAMP start).  That is the greatest sequence number of the shard
 * at or below the position, or NULL ("from the trim horizon") when the
 * position lies before the shard's first record.  A NULL checkpoint is
 * NULL too.  Callers never take sequence numbers apart themselves.
 */
Datum
kg_read_shard_after_checkpoint(PG_FUNCTION_ARGS)
{
	KgStream   *s;
	KgShard    *sh;
	int64		pos;
	int64		counter;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: stream name and shard id must not be null")));
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	sh = kg_require_shard(s, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	if (PG_ARGISNULL(2))
		PG_RETURN_NULL();
	pos = PG_GETARG_INT64(2);
	if (pos < sh->starting_seq)
		PG_RETURN_NULL();
	counter = KG_SEQ_COUNTER(pos);
	if (KG_SEQ_SHARD(pos) < sh->shard_index)
		counter--;				/* >= the first counter: pos >= starting_seq */
	PG_RETURN_INT64(KG_SEQ(counter, sh->shard_index));
}
