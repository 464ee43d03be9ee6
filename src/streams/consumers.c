/*-------------------------------------------------------------------------
 *
 * consumers.c
 *		Named consumers: register_stream_consumer, deregister_stream_consumer,
 *		list_stream_consumers, consume and checkpoint (the leases are in
 *		consumer_leases.c, the consume reader of Glue's bookmarks in
 *		consume_reader.c, the lag function of the kinesis.consumer_positions
 *		view in consumer_lag.c).
 *
 * A consumer has one row per shard in kinesis.consumer_shards: its
 * checkpoint (the last record processed) and a lease.  consume() runs in
 * the caller's transaction: it locks the shard rows it leases (FOR UPDATE
 * SKIP LOCKED, so two sessions of one consumer never get the same shard and
 * never wait for each other), reads after each checkpoint and moves the
 * checkpoint in the same transaction.  If the caller rolls back, the same
 * records come again; if it commits, never again: work done in that
 * transaction happens exactly once.  Between transactions the lease fields
 * keep a shard with its session until kinesis_glue.lease_timeout passes
 * without a consume, or the session ends; then another session takes it.
 * Each session takes about its fair share of the shards (shards divided by
 * live holders), handing extras back, so sessions balance.  A shard becomes
 * eligible only after every parent (split or merge) is finished, so records
 * of one partition key come out in order across reshards.
 *
 * A consumer belongs to the role that registered it (registered_by) and to
 * the stream's owner: only their members may consume as it, checkpoint it
 * or deregister it (kg_check_consumer_access).  consume and checkpoint
 * write (leases, positions), so they are refused on a hot standby
 * (kg_refuse_write_in_recovery).
 *
 * With wait > 0 and nothing to return, consume sleeps on the stream's
 * condition variable, which producers broadcast when they commit (no
 * polling), until records arrive or the time is up.
 *
 * Locking: row locks on the consumer's kinesis.consumer_shards rows, held
 * to the end of the caller's transaction.  A session idle inside an open
 * transaction keeps its shards until that transaction ends.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "common/kg_compat.h"
#include "common/kg_errors.h"
#include "streams/consume.h"
#include "streams/consumer_leases.h"
#include "streams/streams.h"
#include "streams/read.h"
#include "streams/record_rows.h"
#include "streams/standby.h"
#include "streams/stream_cache.h"

#define KG_MAX_CONSUMERS_PER_STREAM 20

/* ValidationException unless a consumer name is 1-128 of [a-zA-Z0-9_.-]. */
static void
kg_check_consumer_name(const char *name)
{
	size_t		len = strlen(name);

	if (len < 1 || len > 128)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: consumer name must have 1 to 128 characters")));
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("ValidationException: consumer name \"%s\" must satisfy the pattern [a-zA-Z0-9_.-]+", name)));
}

/* Id of a consumer of a stream; ResourceNotFoundException unless missing_ok. */
static int32
kg_consumer_id(KgStream *s, const char *consumer, bool missing_ok, Oid *registered_by)
{
	KgCatalogContext cc;
	int32		id = -1;

	kg_catalog_enter(&cc, false);
	if (kg_spi_exec("SELECT consumer_id, registered_by::oid FROM kinesis.consumers "
					"WHERE stream_id OPERATOR(pg_catalog.=) $1 AND consumer_name OPERATOR(pg_catalog.=) $2",
					2, (Oid[]) {INT4OID, TEXTOID},
					(Datum[]) {Int32GetDatum(s->stream_id), CStringGetTextDatum(consumer)}, NULL, false) > 0)
	{
		bool		isnull;

		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (registered_by)
			*registered_by = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	kg_catalog_exit(&cc);
	if (id < 0 && !missing_ok)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: consumer \"%s\" of stream \"%s\" does not exist", consumer, s->name),
				 errhint("Register it with kinesis.register_stream_consumer().")));
	return id;
}

/*
 * A consumer belongs to the role that registered it and to the stream's
 * owner: only members of either may consume as it, checkpoint it or
 * deregister it.  Others get AccessDeniedException (42501), even with
 * SELECT on the stream (they may read it through iterators, or register a
 * consumer of their own).
 */
static void
kg_check_consumer_access(KgStream *s, const char *consumer, Oid registered_by, const char *action)
{
	Oid			user = GetUserId();
	const char *registrant;

	if (has_privs_of_role(user, registered_by) || kg_stream_owned(s))
		return;
	registrant = GetUserNameFromId(registered_by, true);
	ereport(ERROR,
			(errcode(KG_ACCESS_DENIED),
			 errmsg("AccessDeniedException: must be a member of the role that registered consumer \"%s\" or of the owner of stream \"%s\" to %s it",
					consumer, s->name, action),
			 errdetail("Consumer \"%s\" was registered by role \"%s\".",
					   consumer, registrant ? registrant : "(dropped)"),
			 errhint("Register a consumer of your own with kinesis.register_stream_consumer(), or read with kinesis.get_shard_iterator() and kinesis.get_records().")));
}

PG_FUNCTION_INFO_V1(kg_register_stream_consumer);

/*
 * kinesis.register_stream_consumer(stream_name, consumer_name,
 * starting_position, starting_position_timestamp): needs read access to
 * the stream.  Each current shard starts at the given position; shards made
 * later by resharding start at their beginning.
 */
Datum
kg_register_stream_consumer(PG_FUNCTION_ARGS)
{
	KgStream   *s;
	char	   *consumer;
	char	   *position = PG_ARGISNULL(2) ? "TRIM_HORIZON" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	KgCatalogContext cc;
	int32		id;
	int64	   *start;
	int			n;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name and consumer name must not be null")));
	consumer = text_to_cstring(PG_GETARG_TEXT_PP(1));
	kg_check_consumer_name(consumer);
	kg_check_starting_position(position, !PG_ARGISNULL(3));
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	kg_check_read_privilege(s);
	PreventCommandIfReadOnly("kinesis.register_stream_consumer()");

	/* positions first: they read the stream */
	start = kg_start_positions(s, position, PG_ARGISNULL(3) ? 0 : PG_GETARG_TIMESTAMPTZ(3));

	kg_catalog_enter(&cc, false);
	kg_spi_exec("SELECT 1 FROM kinesis.streams WHERE stream_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
				1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(s->stream_id)}, NULL, false);
	n = kg_spi_exec("SELECT consumer_name FROM kinesis.consumers WHERE stream_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(s->stream_id)}, NULL, false);
	for (int i = 0; i < n; i++)
		if (strcmp(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1), consumer) == 0)
			ereport(ERROR,
					(errcode(KG_RESOURCE_IN_USE),
					 errmsg("ResourceInUseException: consumer \"%s\" of stream \"%s\" already exists", consumer, s->name)));
	if (n >= KG_MAX_CONSUMERS_PER_STREAM)
		ereport(ERROR,
				(errcode(KG_LIMIT_EXCEEDED),
				 errmsg("LimitExceededException: stream \"%s\" already has %d consumers", s->name, n),
				 errhint("Deregister a consumer with kinesis.deregister_stream_consumer().")));
	kg_spi_exec("INSERT INTO kinesis.consumers (stream_id, consumer_name, registered_by, starting_position, "
				"starting_position_timestamp) VALUES ($1, $2, $3, $4, $5) RETURNING consumer_id",
				5, (Oid[]) {INT4OID, TEXTOID, OIDOID, TEXTOID, TIMESTAMPTZOID},
				(Datum[]) {Int32GetDatum(s->stream_id), CStringGetTextDatum(consumer),
						   ObjectIdGetDatum(cc.save_userid), CStringGetTextDatum(position),
						   PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3)},
				PG_ARGISNULL(3) ? "    n" : "     ", false);
	{
		bool		isnull;

		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	for (int i = 0; i < s->nshards; i++)
	{
		KgShard    *sh = &s->shards[i];

		if (kg_shard_expired(s, sh))
			continue;
		kg_spi_exec("INSERT INTO kinesis.consumer_shards (consumer_id, shard_index, checkpoint, finished) "
					"VALUES ($1, $2, $3, $4)",
					4, (Oid[]) {INT4OID, INT4OID, INT8OID, BOOLOID},
					(Datum[]) {Int32GetDatum(id), Int32GetDatum(sh->shard_index), Int64GetDatum(start[i]),
							   BoolGetDatum(sh->closed && start[i] >= sh->ending_seq)}, NULL, false);
	}
	kg_catalog_exit(&cc);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(kg_deregister_stream_consumer);

/* kinesis.deregister_stream_consumer(stream_name, consumer_name) */
Datum
kg_deregister_stream_consumer(PG_FUNCTION_ARGS)
{
	KgStream   *s;
	char	   *consumer;
	Oid			registered_by = InvalidOid;
	int32		id;
	KgCatalogContext cc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name and consumer name must not be null")));
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	consumer = text_to_cstring(PG_GETARG_TEXT_PP(1));
	id = kg_consumer_id(s, consumer, false, &registered_by);
	kg_check_consumer_access(s, consumer, registered_by, "deregister");
	PreventCommandIfReadOnly("kinesis.deregister_stream_consumer()");
	kg_catalog_enter(&cc, false);
	kg_spi_exec("DELETE FROM kinesis.consumers WHERE consumer_id OPERATOR(pg_catalog.=) $1",
				1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(id)}, NULL, false);
	kg_catalog_exit(&cc);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(kg_list_stream_consumers);

/* kinesis.list_stream_consumers(stream_name) */
Datum
kg_list_stream_consumers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KgStream   *s;
	KgCatalogContext cc;
	int			n;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name must not be null")));
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	InitMaterializedSRF(fcinfo, 0);
	kg_catalog_enter(&cc, true);
	n = kg_spi_exec("SELECT consumer_name, consumer_status, consumer_creation_timestamp FROM kinesis.consumers "
					"WHERE stream_id OPERATOR(pg_catalog.=) $1 ORDER BY consumer_name COLLATE \"C\"",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(s->stream_id)}, NULL, true);
	for (int i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3];

		for (int k = 0; k < 3; k++)
			values[k] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, k + 1, &nulls[k]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	kg_catalog_exit(&cc);
	return (Datum) 0;
}

/*
 * Collects consumed records into the caller's tuplestore, copying the
 * stored rows where it can (record_rows.c).
 */
typedef struct KgConsumeSink
{
	Tuplestorestate *store;
	TupleDesc	desc;
	KgRecordRows rows;			/* of the shard being read */
} KgConsumeSink;

static bool
kg_consume_sink(void *arg, const KgStoredRecord *rec)
{
	KgConsumeSink *c = (KgConsumeSink *) arg;

	kg_record_rows_put(&c->rows, rec, c->store);
	return true;
}

/*
 * One pass: lease, read up to max_records from the leased shards (one read
 * of each), move their checkpoints.  Returns the number of records stored;
 * *progress is set when a shard finished (children may now be eligible).
 * The readers' memory lives in a context reset after each shard.
 */
static int64
kg_consume_once(KgStream *s, int32 consumer_id, int64 max_records, KgConsumeSink *sink,
				bool *progress)
{
	List	   *leases = kg_acquire_leases(s, consumer_id);
	MemoryContext chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "kinesis_glue consume",
													ALLOCSET_DEFAULT_SIZES);
	ListCell   *lc;
	int64		total = 0;

	*progress = false;
	foreach(lc, leases)
	{
		KgLease    *l = lfirst(lc);
		KgShard    *sh = kg_stream_find_shard(s, l->shard_index);
		MemoryContext old;
		KgReadResult res;

		if (sh == NULL || total >= max_records)
			continue;
		old = MemoryContextSwitchTo(chunk_cxt);
		kg_record_rows_init(&sink->rows, sink->desc, sh->shard_index);
		kg_read_shard_rows(s, sh, l->checkpoint, (int) Min(max_records - total, KG_CONSUME_CHUNK),
						   KG_CONSUME_MAX_BYTES, kg_consume_sink, sink, &res);
		MemoryContextSwitchTo(old);
		MemoryContextReset(chunk_cxt);
		total += res.count;
		if (res.next_position != l->checkpoint || res.shard_end)
			kg_store_checkpoint(consumer_id, sh->shard_index, res.next_position, res.shard_end);
		if (res.shard_end)
			*progress = true;
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(chunk_cxt);
	return total;
}

/*
 * The checks of a consume as consumer of stream_name, by the current user:
 * a primary, read access to the stream, the consumer exists and the user
 * may consume as it.  Returns the stream; *consumer_id is set.
 */
KgStream *
kg_consume_open(const char *stream_name, const char *consumer, int32 *consumer_id)
{
	KgStream   *s;
	Oid			registered_by = InvalidOid;

	kg_refuse_write_in_recovery("kinesis.consume()");
	s = kg_stream_get(stream_name, false);
	kg_check_read_privilege(s);
	*consumer_id = kg_consumer_id(s, consumer, false, &registered_by);
	kg_check_consumer_access(s, consumer, registered_by, "consume as");
	PreventCommandIfReadOnly("kinesis.consume()");
	return s;
}

PG_FUNCTION_INFO_V1(kg_consume);

/*
 * kinesis.consume(stream_name, consumer_name, max_records, wait) -> SETOF
 * kinesis.record.  See the file header for the guarantees.
 */
Datum
kg_consume(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KgStream   *s;
	int32		consumer_id;
	int			max_records = PG_ARGISNULL(2) ? 1000 : PG_GETARG_INT32(2);
	int64		wait_ms = 0;
	TimestampTz deadline;
	KgConsumeSink sink;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name and consumer name must not be null")));
	if (max_records < 1 || max_records > 10000)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: max_records must be between 1 and 10000"),
				 errdetail("The value given was %d.", max_records)));
	if (!PG_ARGISNULL(3))
	{
		wait_ms = kg_interval_usecs(PG_GETARG_INTERVAL_P(3)) / 1000;
		if (wait_ms < 0 || wait_ms > 3600 * 1000)
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("ValidationException: wait must be between 0 and 1 hour")));
	}
	s = kg_consume_open(text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)),
						&consumer_id);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	sink.store = rsinfo->setResult;
	sink.desc = rsinfo->setDesc;
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);

	for (;;)
	{
		bool		progress;
		long		remaining;
		KgStreamState *st = s->state;

		/* arm the wakeup before looking, so a commit in between is not lost */
		if (wait_ms > 0)
			ConditionVariablePrepareToSleep(&st->commit_cv);
		if (kg_consume_once(s, consumer_id, max_records, &sink, &progress) > 0)
			break;
		if (progress)
		{
			/* a parent finished: its children are ready now */
			s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
			continue;
		}
		if (wait_ms == 0)
			break;
		remaining = (long) ((deadline - GetCurrentTimestamp()) / 1000);
		if (remaining <= 0)
			break;
		(void) ConditionVariableTimedSleep(&st->commit_cv, remaining, PG_WAIT_EXTENSION);
		/* a reshard or other change may have moved the layout */
		s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	}
	ConditionVariableCancelSleep();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(kg_checkpoint);

/*
 * kinesis.checkpoint(stream_name, consumer_name, shard_id, sequence_number):
 * mark that record processed (consumption resumes after it), in the
 * caller's transaction.
 */
Datum
kg_checkpoint(PG_FUNCTION_ARGS)
{
	KgStream   *s;
	int32		consumer_id;
	int32		idx;
	KgShard    *sh;
	int64		seq;
	KgCatalogContext cc;
	int			n;
	Oid			registered_by = InvalidOid;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name, consumer name, shard id and sequence number must not be null")));
	kg_refuse_write_in_recovery("kinesis.checkpoint()");
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	kg_check_read_privilege(s);
	consumer_id = kg_consumer_id(s, text_to_cstring(PG_GETARG_TEXT_PP(1)), false, &registered_by);
	kg_check_consumer_access(s, text_to_cstring(PG_GETARG_TEXT_PP(1)), registered_by, "checkpoint");
	idx = kg_parse_shard_id(s->name, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	sh = kg_stream_find_shard(s, idx);
	if (sh == NULL)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: shard %s in stream \"%s\" does not exist",
						kg_shard_id_string(idx), s->name)));
	seq = PG_GETARG_INT64(3);
	if (seq < sh->starting_seq - 1 || (seq >= 0 && KG_SEQ_SHARD(seq) != sh->shard_index && seq != sh->starting_seq - 1))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: sequence number %lld does not belong to shard %s",
						(long long) seq, kg_shard_id_string(sh->shard_index))));
	if (seq > KG_SEQ(kg_stream_stable_bound(s->state), 0) - 1 || (sh->closed && seq > sh->ending_seq))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: sequence number %lld is beyond the last record of shard %s",
						(long long) seq, kg_shard_id_string(sh->shard_index))));
	PreventCommandIfReadOnly("kinesis.checkpoint()");

	kg_catalog_enter(&cc, false);
	kg_spi_exec("INSERT INTO kinesis.consumer_shards (consumer_id, shard_index, checkpoint) VALUES ($1, $2, $3) "
				"ON CONFLICT DO NOTHING",
				3, (Oid[]) {INT4OID, INT4OID, INT8OID},
				(Datum[]) {Int32GetDatum(consumer_id), Int32GetDatum(idx), Int64GetDatum(sh->starting_seq - 1)},
				NULL, false);
	n = kg_spi_exec("SELECT 1 FROM kinesis.consumer_shards WHERE consumer_id OPERATOR(pg_catalog.=) $1 "
					"AND shard_index OPERATOR(pg_catalog.=) $2 FOR UPDATE",
					2, (Oid[]) {INT4OID, INT4OID}, (Datum[]) {Int32GetDatum(consumer_id), Int32GetDatum(idx)},
					NULL, false);
	kg_catalog_exit(&cc);
	(void) n;
	kg_store_checkpoint(consumer_id, idx, seq, sh->closed && seq >= sh->ending_seq);
	PG_RETURN_VOID();
}
