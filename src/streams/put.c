/*-------------------------------------------------------------------------
 *
 * put.c
 *		put_record and put_records: validate, route by MD5 of the partition
 *		key (or, on a stream with the AUTO record distribution strategy,
 *		round-robin over the open shards), take sequence numbers from the
 *		shared counter and bulk-insert into the current record segment.  No
 *		SPI and no per-row SQL here.
 *
 * The whole input is validated before anything is taken or written, so a
 * bad entry rejects the call and changes nothing.  Records of one call get
 * consecutive counters, so within a shard they are numbered in input
 * order.  The in-flight mark published with the counters holds readers
 * back until this transaction ends (see stream_state.h).  In FROM,
 * put_record runs as a KinesisRecordScan (record_scan.c; its steps are
 * below kg_put_record).
 *
 * Locking: RowExclusiveLock on the segment relations written; never on the
 * stream's record table.  Stream spinlock inside kg_stream_state_take.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "common/pg_prng.h"

#include "common/kg_compat.h"
#include "common/kg_errors.h"
#include "common/kg_hashkey.h"
#include "common/kg_shmem.h"
#include "streams/put.h"
#include "streams/record_scan.h"
#include "streams/segments.h"
#include "streams/standby.h"
#include "streams/stream_cache.h"
#include "streams/streams.h"
#include "streams/throughput.h"

#define KG_MAX_RECORD_BYTES (1024 * 1024)
#define KG_MAX_BATCH_RECORDS 500
#define KG_MAX_BATCH_BYTES (5 * 1024 * 1024)
#define KG_MAX_PARTITION_KEY_CHARS 256

static void kg_put_admitted(KgStream *s, KgPutInput *in, KgPutResult *out, int n,
							int64 sequence_number_for_ordering);

/* Slots reused by every put of this backend (all record tables share a shape). */
static TupleTableSlot **put_slots = NULL;
static TupleDesc put_desc = NULL;

/* " (record N)" in messages, built only when one is raised */
#define where (batch ? psprintf(" (record %d)", i + 1) : "")

/*
 * Record i has no partition key: ValidationException unless the stream
 * uses the AUTO record distribution strategy (a missing stream is not
 * AUTO: the error stays the one a null key always got).  Called while
 * validating, and again with the entry routing uses, in case the strategy
 * changed in between.
 */
static void
kg_put_null_key(const char *stream_name, int i, bool batch)
{
	KgStream   *s = kg_stream_get(stream_name, true);

	if (s == NULL || !s->auto_distribution)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: partition key must not be null%s", where),
				 s ? errhint("Only a stream with the AUTO record distribution strategy accepts records without a partition key.") : 0));
}

/*
 * ValidationException / InvalidArgumentException checks of one record.  A
 * NULL partition key was checked by kg_put_null_key.
 */
static void
kg_put_validate_entry(KgPutInput *in, int i, bool batch)
{
	int			nchars;

	if (in->data == NULL)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: data must not be null%s", where)));
	/* a key of 1 to 256 bytes has 1 to 256 characters: count only longer ones */
	nchars = in->pk == NULL ? 1 :
		in->pklen >= 1 && in->pklen <= KG_MAX_PARTITION_KEY_CHARS ? in->pklen :
		pg_mbstrlen_with_len(in->pk, in->pklen);
	if (nchars < 1 || nchars > KG_MAX_PARTITION_KEY_CHARS)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: partition key must have 1 to %d characters%s",
						KG_MAX_PARTITION_KEY_CHARS, where),
				 errdetail("The partition key has %d characters.", nchars)));
	if ((int64) in->pklen + VARSIZE_ANY_EXHDR(in->data) > KG_MAX_RECORD_BYTES)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: record size exceeds the limit of 1 MiB%s", where),
				 errdetail("Data and partition key take %lld bytes.",
						   (long long) in->pklen + (long long) VARSIZE_ANY_EXHDR(in->data)),
				 errhint("Split the payload into several records.")));
	if (in->ehk_given && !in->ehk_ok)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: invalid explicit hash key%s", where),
				 errdetail("The explicit hash key must be an integer in the range [0, 2^128-1]; the value given was %s.",
						   in->ehk_text)));
}

#undef where

/*
 * AUTO record distribution: ignore partition and explicit hash keys and deal
 * the records out round-robin over the open shards (each gets the starting
 * hash key of its shard, which routes to it).  Round-robin rather than a
 * random hash key: after splits the open shards of an on-demand stream
 * cover unequal ranges, so uniformly random keys would load a wide shard
 * more than a narrow one, while dealing by shard gives every open shard the
 * same number of records (within one call the counts differ by at most
 * one).  The counter
 * is per backend and starts at a random shard, so that many sessions
 * putting one record each do not all land on the first shard.  A record
 * without a partition key is stored with the empty key (GetRecords returns
 * PartitionKey ""); a given key is stored as given.
 */
static void
kg_put_spread(KgStream *s, KgPutInput *in, int n)
{
	static uint32 next_shard = 0;
	static bool seeded = false;

	if (!seeded)
	{
		next_shard = pg_prng_uint32(&pg_global_prng_state);
		seeded = true;
	}
	for (int i = 0; i < n; i++)
	{
		if (in[i].pk == NULL)
		{
			in[i].pk = "";
			in[i].pklen = 0;
		}
		/* no open shard here: hash key 0, which routing refuses */
		in[i].hash = s->nopen > 0 ? s->open[next_shard++ % s->nopen]->start_hash : 0;
	}
}

/* Decode the explicit hash key argument of one entry. */
void
kg_put_set_explicit_hash_key(KgPutInput *in, Datum num, bool isnull)
{
	in->ehk_given = !isnull;
	in->ehk_ok = false;
	in->ehk_text = NULL;
	if (isnull)
		return;
	in->ehk_ok = kg_numeric_to_u128(num, &in->ehk);
	if (!in->ehk_ok)
		in->ehk_text = DatumGetCString(DirectFunctionCall1(numeric_out, num));
}

/* Make sure the per-backend slots exist for a relation of this shape. */
static void
kg_put_prepare_slots(Relation rel)
{
	MemoryContext old;

	if (put_slots != NULL)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	put_desc = CreateTupleDescCopy(RelationGetDescr(rel));
	put_slots = palloc(sizeof(TupleTableSlot *) * KG_MAX_BATCH_RECORDS);
	for (int i = 0; i < KG_MAX_BATCH_RECORDS; i++)
		put_slots[i] = MakeSingleTupleTableSlot(put_desc, &TTSOpsHeapTuple);
	MemoryContextSwitchTo(old);
}

/*
 * Insert records [from, to) of the call, all in one segment.  Heap rows go
 * in with one multi-insert (a single row with heap_insert); the (shard,
 * sequence) index gets one entry per row.
 */
static void
kg_put_insert_run(KgStream *s, int64 segment_no, KgPutInput *in, KgPutResult *out,
				  int from, int to, TimestampTz arrival)
{
	Relation	rel = try_table_open(kg_segment_relid_wait(s, segment_no), RowExclusiveLock);
	int			nindexes;
	Oid		   *index_oids;
	IndexInfo **index_infos;
	int			n = to - from;
	CommandId	cid = GetCurrentCommandId(true);

	if (rel == NULL)
		kg_stream_not_found(s->name);
	kg_put_prepare_slots(rel);

	for (int i = 0; i < n; i++)
	{
		TupleTableSlot *slot = put_slots[i];
		KgPutInput *r = &in[from + i];

		ExecClearTuple(slot);
		slot->tts_values[0] = Int32GetDatum(out[from + i].shard_index);
		slot->tts_values[1] = Int64GetDatum(out[from + i].sequence_number);
		slot->tts_values[2] = TimestampTzGetDatum(arrival);
		slot->tts_values[3] = PointerGetDatum(cstring_to_text_with_len(r->pk, r->pklen));
		slot->tts_values[4] = PointerGetDatum(r->data);
		memset(slot->tts_isnull, 0, sizeof(bool) * 5);
		ExecStoreVirtualTuple(slot);
	}
	/* one row: heap_insert, about 1,300 instructions less than a multi-insert of one */
	if (n == 1)
		table_tuple_insert(rel, put_slots[0], cid, 0, NULL);
	else
		table_multi_insert(rel, put_slots, n, cid, 0, NULL);

	nindexes = kg_segment_indexes(s, segment_no, rel, &index_oids, &index_infos);
	for (int x = 0; x < nindexes; x++)
	{
		Relation	irel = index_open(index_oids[x], RowExclusiveLock);
		IndexInfo  *ii = index_infos[x];

		for (int i = 0; i < n; i++)
		{
			Datum		values[INDEX_MAX_KEYS];
			bool		isnull[INDEX_MAX_KEYS];

			for (int k = 0; k < ii->ii_NumIndexAttrs; k++)
			{
				AttrNumber	att = ii->ii_IndexAttrNumbers[k];

				values[k] = put_slots[i]->tts_values[att - 1];
				isnull[k] = false;
			}
			index_insert(irel, values, isnull, &put_slots[i]->tts_tid, rel,
						 UNIQUE_CHECK_NO, false, ii);
		}
		index_close(irel, NoLock);
	}
	for (int i = 0; i < n; i++)
		ExecClearTuple(put_slots[i]);
	table_close(rel, NoLock);
}

/*
 * Put n records to a stream.  Fills out[] (shard, sequence number) in input
 * order.  sequence_number_for_ordering (put_record only, -1 when absent)
 * must be a number this stream has handed out; the new record's number is
 * then above it, as every later number is.
 */
void
kg_put(const char *stream_name, KgPutInput *in, int n, KgPutResult *out,
	   int64 sequence_number_for_ordering)
{
	KgStream   *s;
	int64		total = 0;
	int			null_key = -1;	/* the first record without a partition key */
	bool		batch = n > 1 || sequence_number_for_ordering == -2;

	kg_require_shmem();
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot put records in a read-only transaction"),
				 RecoveryInProgress() ? errhint("This server is a hot standby: put records on %s.",
												kg_standby_primary()) : 0));

	/* validate everything first: a bad entry rejects the whole call */
	if (n < 1)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: records must contain at least 1 record")));
	if (n > KG_MAX_BATCH_RECORDS)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: records must contain at most %d records", KG_MAX_BATCH_RECORDS),
				 errdetail("The call has %d records.", n),
				 errhint("Split the batch into several calls.")));
	for (int i = 0; i < n; i++)
	{
		if (unlikely(in[i].pk == NULL) && null_key < 0)
		{
			kg_put_null_key(stream_name, i, batch);
			null_key = i;
		}
		kg_put_validate_entry(&in[i], i, batch);
		total += in[i].pklen + VARSIZE_ANY_EXHDR(in[i].data);
	}
	if (total > KG_MAX_BATCH_BYTES)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: records size exceeds the limit of 5 MiB"),
				 errdetail("The records take %lld bytes.", (long long) total),
				 errhint("Split the batch into several calls.")));

	s = kg_stream_get(stream_name, false);
	if (pg_class_aclcheck(s->record_table, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(KG_ACCESS_DENIED),
				 errmsg("AccessDeniedException: permission denied to put records to stream \"%s\"", s->name),
				 errhint("The stream's owner can grant it: GRANT INSERT ON %s TO role.",
						 quote_qualified_identifier("kinesis_records", get_rel_name(s->record_table)))));

	if (unlikely(s->auto_distribution))
		kg_put_spread(s, in, n);
	else
	{
		if (unlikely(null_key >= 0))
			kg_put_null_key(stream_name, null_key, batch);	/* AUTO no more */
		for (int i = 0; i < n; i++)
			in[i].hash = in[i].ehk_given ? in[i].ehk :
				kg_partition_key_hash(in[i].pk, in[i].pklen);
	}

	if (kg_stream_metered(s))
	{
		/* meter each record on its shard; put only the admitted ones */
		bool		enforce = kg_stream_quotas_on(s);
		KgPutInput *admitted_in = palloc(sizeof(KgPutInput) * n);
		KgPutResult *admitted_out = palloc0(sizeof(KgPutResult) * n);
		int			m = 0;

		for (int i = 0; i < n; i++)
		{
			KgShard    *sh = kg_stream_route(s, in[i].hash);
			KgShardMeter *meter = kg_meter_get(s->stream_id, sh->shard_index);

			out[i].shard_index = sh->shard_index;
			out[i].throttled = meter != NULL &&
				!kg_meter_admit_write(meter, in[i].pklen + VARSIZE_ANY_EXHDR(in[i].data), enforce);
			if (!out[i].throttled)
				admitted_in[m++] = in[i];
		}
		if (m > 0)
			kg_put_admitted(s, admitted_in, admitted_out, m, sequence_number_for_ordering);
		for (int i = 0, j = 0; i < n; i++)
			if (!out[i].throttled)
				out[i] = admitted_out[j++];
		return;
	}
	kg_put_admitted(s, in, out, n, sequence_number_for_ordering);
}

/*
 * Route the (validated, hashed) records, take their counters and insert
 * them.  Fills out[] in input order.
 */
static void
kg_put_admitted(KgStream *s, KgPutInput *in, KgPutResult *out, int n,
				int64 sequence_number_for_ordering)
{
	int64		first = 0;
	TimestampTz arrival;
	int			attempts = 0;
	int			from;
	int64		next;			/* the segment after the last one written */

	/* route and take counters; retry if the layout changed meanwhile */
	for (;;)
	{
		if (sequence_number_for_ordering >= 0 &&
			KG_SEQ_COUNTER(sequence_number_for_ordering) >= kg_stream_peek_counter(s->state))
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: sequence number for ordering %lld is invalid for stream \"%s\"",
							(long long) sequence_number_for_ordering, s->name),
					 errdetail("It is above every sequence number the stream has handed out.")));
		for (int i = 0; i < n; i++)
			out[i].shard_index = kg_stream_route(s, in[i].hash)->shard_index;
		switch (kg_stream_state_take(s->state, s->version, n, &first))
		{
			case KG_TAKE_OK:
				break;
			case KG_TAKE_WAIT:
				kg_stream_wait_reshard(s->state);
				/* FALLTHROUGH */
			case KG_TAKE_STALE:
				if (++attempts > 1000)
					elog(ERROR, "could not take sequence numbers for stream \"%s\": metadata keeps changing", s->name);
				s = kg_stream_reload(s);
				continue;
		}
		break;
	}

	arrival = GetCurrentTimestamp();
	for (int i = 0; i < n; i++)
	{
		out[i].sequence_number = KG_SEQ(first + i, out[i].shard_index);
		out[i].throttled = false;
	}

	/* insert, one multi-insert per segment touched (usually one) */
	from = 0;
	while (from < n)
	{
		int64		segno = (first + from) / s->segment_capacity;
		int			to = from + 1;

		while (to < n && (first + to) / s->segment_capacity == segno)
			to++;
		kg_put_insert_run(s, segno, in, out, from, to, arrival);
		from = to;
	}

	/*
	 * The worker creates segments ahead; nudge it when the next is missing,
	 * once per segment (a missing segment is looked up in the catalog, about
	 * 1,500 instructions, and a put that needs it waits and nudges anyway).
	 */
	next = (first + n - 1) / s->segment_capacity + 1;
	if (next != s->nudged_segment && !OidIsValid(kg_segment_relid(s, next)))
	{
		kg_wake_worker(MyDatabaseId);
		s->nudged_segment = next;
	}
}

/* Kinesis shard id text of a result. */
static Datum
kg_shard_id_datum(int32 shard_index)
{
	return CStringGetTextDatum(kg_shard_id_string(shard_index));
}

/*
 * Put put_record's one record with the arguments in fcinfo (stream_name,
 * partition_key, data, explicit_hash_key, sequence_number_for_ordering);
 * its result row (shard_id, sequence_number) into values: kinesis.put_record
 * itself and its KinesisRecordScan steps.
 */
static void
kg_put_record_values(FunctionCallInfo fcinfo, Datum *values)
{
	KgPutInput	in;
	KgPutResult out;
	int64		sfo = -1;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name must not be null")));
	memset(&in, 0, sizeof(in));
	if (!PG_ARGISNULL(1))
	{
		text	   *pk = PG_GETARG_TEXT_PP(1);

		in.pk = VARDATA_ANY(pk);
		in.pklen = VARSIZE_ANY_EXHDR(pk);
	}
	if (!PG_ARGISNULL(2))
		in.data = PG_GETARG_BYTEA_PP(2);
	kg_put_set_explicit_hash_key(&in, PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3), PG_ARGISNULL(3));
	if (!PG_ARGISNULL(4))
	{
		sfo = PG_GETARG_INT64(4);
		if (sfo < 0)
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: sequence number for ordering %lld is invalid", (long long) sfo)));
	}

	kg_put(text_to_cstring(PG_GETARG_TEXT_PP(0)), &in, 1, &out, sfo);
	if (out.throttled)
		ereport(ERROR,
				(errcode(KG_THROUGHPUT_EXCEEDED),
				 errmsg("ProvisionedThroughputExceededException: rate exceeded for shard %s in stream \"%s\"",
						kg_shard_id_string(out.shard_index), text_to_cstring(PG_GETARG_TEXT_PP(0))),
				 errhint("Retry with backoff, spread the partition keys, or add shards.")));
	values[0] = kg_shard_id_datum(out.shard_index);
	values[1] = Int64GetDatum(out.sequence_number);
}

PG_FUNCTION_INFO_V1(kg_put_record);

/*
 * kinesis.put_record(stream_name, partition_key, data, explicit_hash_key,
 * sequence_number_for_ordering) -> (shard_id, sequence_number)
 */
Datum
kg_put_record(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	kg_put_record_values(fcinfo, values);
	InitMaterializedSRF(fcinfo, rsinfo && rsinfo->expectedDesc ? MAT_SRF_USE_EXPECTED_DESC : 0);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/*
 * KinesisRecordScan's steps for put_record in FROM (record_scan.c): the put
 * when the scan starts, as the function scan's first fetch would run it,
 * then its one row, without the function scan's set-up of a tuplestore
 * and a result descriptor for that row (a put with its commit: about
 * 58,800 backend instructions instead of 62,900).
 */
static void
kg_put_record_scan_begin(void *state, FunctionCallInfo fcinfo, TupleDesc desc)
{
	KgRecordScanRow *row = (KgRecordScanRow *) state;

	Assert(desc->natts <= KG_RECORD_SCAN_ROW_MAX_ATTS);
	row->natts = desc->natts;
	kg_put_record_values(fcinfo, row->values);
}

static const KgRecordScanProvider kg_put_record_scan = {
	.symbol = "kg_put_record",
	.nargs = 5,
	.argtypes = {TEXTOID, TEXTOID, BYTEAOID, NUMERICOID, INT8OID},
	.retset = true,
	.natts = 2,
	.name = "kinesis.put_record",
	.state_size = sizeof(KgRecordScanRow),
	.begin = kg_put_record_scan_begin,
	.next = kg_record_scan_row_next,
};

/* Register put_record with KinesisRecordScan (from kg_streams_init). */
void
kg_put_register_scan(void)
{
	kg_record_scan_register(&kg_put_record_scan);
}

/*
 * Emit the rows of a put_records call, one per input record, in order; a
 * throttled record has NULL shard and sequence number and its error.
 */
static void
kg_put_records_emit(FunctionCallInfo fcinfo, const char *stream_name, KgPutResult *out, int n)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		shard_ids[8];	/* shard id texts of the first 8 shard indexes */

	memset(shard_ids, 0, sizeof(shard_ids));
	InitMaterializedSRF(fcinfo, rsinfo && rsinfo->expectedDesc ? MAT_SRF_USE_EXPECTED_DESC : 0);
	for (int i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, true, true};

		if (out[i].throttled)
		{
			nulls[0] = nulls[1] = true;
			nulls[2] = nulls[3] = false;
			values[2] = CStringGetTextDatum("ProvisionedThroughputExceededException");
			values[3] = CStringGetTextDatum(psprintf("Rate exceeded for shard %s in stream %s.",
													 kg_shard_id_string(out[i].shard_index), stream_name));
		}
		else
		{
			int32		idx = out[i].shard_index;

			if (idx < lengthof(shard_ids))
			{
				if (shard_ids[idx] == (Datum) 0)
					shard_ids[idx] = kg_shard_id_datum(idx);
				values[0] = shard_ids[idx];
			}
			else
				values[0] = kg_shard_id_datum(idx);
			values[1] = Int64GetDatum(out[i].sequence_number);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

static void
kg_check_array(ArrayType *arr, const char *what)
{
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: %s must be a one-dimensional array", what)));
}

PG_FUNCTION_INFO_V1(kg_put_records);

/* kinesis.put_records(stream_name, records kinesis.put_records_entry[]) */
Datum
kg_put_records(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elnulls;
	int			n;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	KgPutInput *in;
	KgPutResult *out;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: records must not be null")));
	arr = PG_GETARG_ARRAYTYPE_P(1);
	kg_check_array(arr, "records");
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign, &elems, &elnulls, &n);
	if (n > KG_MAX_BATCH_RECORDS)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: records must contain at most %d records", KG_MAX_BATCH_RECORDS),
				 errdetail("The call has %d records.", n),
				 errhint("Split the batch into several calls.")));

	in = palloc0(sizeof(KgPutInput) * Max(n, 1));
	out = palloc0(sizeof(KgPutResult) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTupleHeader rec;
		HeapTupleData tup;
		TupleDesc	desc;
		Datum		v[3];
		bool		isnull[3];

		if (elnulls[i])
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("ValidationException: record %d must not be null", i + 1)));
		rec = DatumGetHeapTupleHeader(elems[i]);
		desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(rec), HeapTupleHeaderGetTypMod(rec));
		tup.t_len = HeapTupleHeaderGetDatumLength(rec);
		tup.t_data = rec;
		heap_deform_tuple(&tup, desc, v, isnull);
		ReleaseTupleDesc(desc);
		if (!isnull[0])
		{
			text	   *pk = DatumGetTextPP(v[0]);

			in[i].pk = VARDATA_ANY(pk);
			in[i].pklen = VARSIZE_ANY_EXHDR(pk);
		}
		if (!isnull[1])
			in[i].data = DatumGetByteaPP(v[1]);
		kg_put_set_explicit_hash_key(&in[i], v[2], isnull[2]);
	}

	kg_put(text_to_cstring(PG_GETARG_TEXT_PP(0)), in, n, out, -2);
	kg_put_records_emit(fcinfo, text_to_cstring(PG_GETARG_TEXT_PP(0)), out, n);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(kg_put_records_arrays);

/* kinesis.put_records(stream_name, partition_keys text[], data bytea[]) */
Datum
kg_put_records_arrays(PG_FUNCTION_ARGS)
{
	ArrayType  *keys;
	ArrayType  *datas;
	Datum	   *kelems,
			   *delems;
	bool	   *knulls,
			   *dnulls;
	int			nk,
				nd;
	KgPutInput *in;
	KgPutResult *out;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name must not be null")));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: partition keys and data must not be null")));
	keys = PG_GETARG_ARRAYTYPE_P(1);
	datas = PG_GETARG_ARRAYTYPE_P(2);
	kg_check_array(keys, "partition keys");
	kg_check_array(datas, "data");
	deconstruct_array(keys, TEXTOID, -1, false, TYPALIGN_INT, &kelems, &knulls, &nk);
	deconstruct_array(datas, BYTEAOID, -1, false, TYPALIGN_INT, &delems, &dnulls, &nd);
	if (nk != nd)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: partition keys and data must have the same length"),
				 errdetail("There are %d partition keys and %d data values.", nk, nd)));
	if (nk > KG_MAX_BATCH_RECORDS)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: records must contain at most %d records", KG_MAX_BATCH_RECORDS),
				 errdetail("The call has %d records.", nk),
				 errhint("Split the batch into several calls.")));

	in = palloc0(sizeof(KgPutInput) * Max(nk, 1));
	out = palloc0(sizeof(KgPutResult) * Max(nk, 1));
	for (int i = 0; i < nk; i++)
	{
		if (!knulls[i])
		{
			text	   *pk = DatumGetTextPP(kelems[i]);

			in[i].pk = VARDATA_ANY(pk);
			in[i].pklen = VARSIZE_ANY_EXHDR(pk);
		}
		if (!dnulls[i])
			in[i].data = DatumGetByteaPP(delems[i]);
	}
	kg_put(text_to_cstring(PG_GETARG_TEXT_PP(0)), in, nk, out, -2);
	kg_put_records_emit(fcinfo, text_to_cstring(PG_GETARG_TEXT_PP(0)), out, nk);
	return (Datum) 0;
}
