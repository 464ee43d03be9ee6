/*-------------------------------------------------------------------------
 *
 * get.c
 *		get_shard_iterator, get_records, read_shard, and the start position
 *		of a read_shard that resumes after a consumer's checkpoint.
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

typedef struct KgFindTime
{
	TimestampTz target;
	int64		found;
} KgFindTime;

static bool
kg_find_time_sink(void *arg, int64 seq, TimestampTz arrival, Datum pk, Datum data)
{
	KgFindTime *f = (KgFindTime *) arg;

	if (arrival >= f->target)
	{
		f->found = seq;
		return false;
	}
	return true;
}

/* Position of AT_TIMESTAMP: before the first record at or after t, else the tip. */
int64
kg_position_at_time(KgStream *s, KgShard *sh, TimestampTz t)
{
	int64		pos = kg_trim_position(s, sh);

	for (;;)
	{
		KgFindTime f = {t, -1};
		KgReadResult res;

		kg_read_shard_range(s, sh, pos, KG_GET_MAX_RECORDS, PG_INT64_MAX,
							kg_find_time_sink, &f, &res);
		if (f.found >= 0)
			return f.found - 1;
		if (!res.more)
			return res.next_position;
		pos = res.next_position;
		CHECK_FOR_INTERRUPTS();
	}
}

/* Position of LATEST: after the last stable record (a closed shard: its end). */
int64
kg_position_latest(KgStream *s, KgShard *sh)
{
	if (sh->closed)
		return sh->ending_seq;
	return Max(KG_SEQ(kg_stream_stable_bound(s->state), 0) - 1, kg_trim_position(s, sh));
}

/*
 * ValidationException unless position is TRIM_HORIZON, LATEST or
 * AT_TIMESTAMP; InvalidArgumentException unless a timestamp comes with
 * AT_TIMESTAMP and only with it.  (Consumers and event source mappings.)
 */
void
kg_check_starting_position(const char *position, bool has_timestamp)
{
	if (strcmp(position, "TRIM_HORIZON") != 0 && strcmp(position, "LATEST") != 0 &&
		strcmp(position, "AT_TIMESTAMP") != 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: starting position \"%s\" is not one of TRIM_HORIZON, LATEST, AT_TIMESTAMP", position)));
	if ((strcmp(position, "AT_TIMESTAMP") == 0) != has_timestamp)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: a starting position timestamp goes with AT_TIMESTAMP, and only with it")));
}

/* The position of every shard of s (by s->shards index) for a starting position. */
int64 *
kg_start_positions(KgStream *s, const char *position, TimestampTz t)
{
	int64	   *start = palloc(sizeof(int64) * Max(s->nshards, 1));

	for (int i = 0; i < s->nshards; i++)
	{
		KgShard    *sh = &s->shards[i];

		if (strcmp(position, "TRIM_HORIZON") == 0)
			start[i] = kg_trim_position(s, sh);
		else if (strcmp(position, "LATEST") == 0)
			start[i] = kg_position_latest(s, sh);
		else
			start[i] = kg_position_at_time(s, sh, t);
	}
	return start;
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
 * Collects records as kinesis.record composites: get_records writes them
 * straight into the result array (one copy of each record, no tuple per
 * record to form and copy again), read_shard into its tuplestore.
 */
typedef struct KgRecordCollector
{
	TupleDesc	desc;
	Datum		shard_id;
	int			n;
	char	   *buf;			/* get_records: the array being built */
	Size		len;			/* bytes of buf used */
	Size		cap;			/* bytes of buf allocated */
	char		elemalign;		/* typalign of kinesis.record */
	uint8		hoff;			/* header size of the records; 0: none yet */
	char		header[MAXALIGN(offsetof(HeapTupleHeaderData, t_bits) + BITMAPLEN(8))];	/* first record's header */
	Tuplestorestate *store;		/* read_shard: rows go here instead */
} KgRecordCollector;

/* Bytes before the first element of a one-dimensional array without nulls. */
#define KG_ARRAY_HEADER ARR_OVERHEAD_NONULLS(1)

/*
 * Append one composite to the array of c, formed in place.  The first
 * record is formed by heap_form_tuple, and its header (type, typmod and
 * whatever else this server's heap_form_tuple stamps on a composite datum;
 * no field is null) is the template of the others: each later record gets
 * that header, its own length, and heap_fill_tuple's data, written once
 * into the array where construct_array would have copied a separately
 * formed tuple a second time.  External TOAST pointers are fetched first,
 * as HeapTupleGetDatum would.  buf is zeroed ahead, so the padding is zero.
 */
static void
kg_collect_append(KgRecordCollector *c, Datum *values, bool *nulls)
{
	HeapTuple	tup = NULL;
	Size		data_len = 0;
	Size		len;
	Size		start;
	Size		end;			/* with the padding after it */
	HeapTupleHeader td;

	for (int i = 3; i < 5; i++)
		if (VARATT_IS_EXTERNAL(DatumGetPointer(values[i])))
			values[i] = PointerGetDatum(detoast_external_attr((struct varlena *) DatumGetPointer(values[i])));
	if (c->hoff == 0)
	{
		tup = heap_form_tuple(c->desc, values, nulls);
		Assert(!HeapTupleHasExternal(tup) && !HeapTupleHasNulls(tup));
		len = tup->t_len;
	}
	else
	{
		data_len = heap_compute_data_size(c->desc, values, nulls);
		len = c->hoff + data_len;
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
	td = (HeapTupleHeader) (c->buf + start);
	if (tup != NULL)
	{
		memcpy(td, tup->t_data, len);
		c->hoff = tup->t_data->t_hoff;
		Assert(c->hoff <= sizeof(c->header));
		memcpy(c->header, tup->t_data, c->hoff);
		heap_freetuple(tup);
	}
	else
	{
		memcpy(td, c->header, c->hoff);
		HeapTupleHeaderSetDatumLength(td, len);
		heap_fill_tuple(c->desc, values, nulls, (char *) td + c->hoff, data_len,
						&td->t_infomask, NULL);
	}
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
kg_collect_sink(void *arg, int64 seq, TimestampTz arrival, Datum pk, Datum data)
{
	KgRecordCollector *c = (KgRecordCollector *) arg;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	values[0] = c->shard_id;
	values[1] = Int64GetDatum(seq);
	values[2] = TimestampTzGetDatum(arrival);
	values[3] = pk;
	values[4] = data;
	if (c->store)
		tuplestore_putvalues(c->store, c->desc, values, nulls);
	else
		kg_collect_append(c, values, nulls);
	return true;
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
	int64		wait_ms = 0;

	if (!PG_ARGISNULL(2))
	{
		wait_ms = kg_interval_usecs(PG_GETARG_INTERVAL_P(2)) / 1000;
		if (wait_ms < 0 || wait_ms > 3600 * 1000)
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("ValidationException: wait must be between 0 and 1 hour")));
	}
	return kg_get_records_internal(fcinfo, wait_ms);
}

static Datum
kg_get_records_internal(FunctionCallInfo fcinfo, int64 wait_ms)
{
	KgIterator	it;
	KgStream   *s;
	KgShard    *sh;
	int			limit = PG_ARGISNULL(1) ? KG_GET_MAX_RECORDS : PG_GETARG_INT32(1);
	TupleDesc	resdesc;
	Oid			record_type;
	KgRecordCollector c;
	KgReadResult res;
	KgShardMeter *meter;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, true};
	int16		typlen;
	bool		typbyval;
	char		typalign;

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

	if (get_call_result_type(fcinfo, NULL, &resdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type of get_records must be composite");
	record_type = get_element_type(TupleDescAttr(resdesc, 0)->atttypid);
	memset(&c, 0, sizeof(c));
	get_typlenbyvalalign(record_type, &typlen, &typbyval, &typalign);
	c.desc = lookup_rowtype_tupdesc_copy(record_type, -1);
	c.shard_id = CStringGetTextDatum(kg_shard_id_string(sh->shard_index));
	c.elemalign = typalign;
	c.cap = KG_ARRAY_HEADER + (Size) Min(limit, 256) * 256;
	c.buf = palloc0(c.cap);		/* zeroed: padding between records */
	c.len = KG_ARRAY_HEADER;

	meter = kg_admit_read(s, sh);
	{
		TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);

		for (;;)
		{
			long		remaining;

			if (wait_ms > 0)
				ConditionVariablePrepareToSleep(&s->state->commit_cv);
			kg_read_shard_range(s, sh, it.position, limit, KG_GET_MAX_BYTES,
								kg_collect_sink, &c, &res);
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

	values[0] = kg_collect_array(&c, record_type);
	if (res.shard_end)
	{
		/* closed shard read to its end: no next iterator, name the children */
		Datum	   *children = palloc(sizeof(Datum) * Max(s->nshards, 1));
		int			nchildren = 0;

		for (int i = 0; i < s->nshards; i++)
			if (s->shards[i].parent_index == sh->shard_index ||
				s->shards[i].adjacent_parent_index == sh->shard_index)
				children[nchildren++] = CStringGetTextDatum(kg_shard_id_string(s->shards[i].shard_index));
		nulls[1] = true;
		values[3] = PointerGetDatum(construct_array(children, nchildren, TEXTOID, -1, false, TYPALIGN_INT));
		nulls[3] = false;
	}
	else
	{
		it.position = res.next_position;
		it.issued_at = GetCurrentTimestamp();
		values[1] = CStringGetTextDatum(kg_iterator_encode(&it));
	}
	values[2] = Int64GetDatum(res.more && res.count > 0 ?
							  Max((GetCurrentTimestamp() - res.last_arrival) / 1000, 0) : 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(resdesc), values, nulls)));
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
	c.desc = rsinfo->setDesc;
	c.store = rsinfo->setResult;
	c.shard_id = CStringGetTextDatum(kg_shard_id_string(sh->shard_index));
	meter = kg_admit_read(s, sh);
	kg_read_shard_range(s, sh, after, limit, KG_GET_MAX_BYTES, kg_collect_sink, &c, &res);
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
