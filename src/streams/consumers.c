/*-------------------------------------------------------------------------
 *
 * consumers.c
 *		Named consumers: register_stream_consumer, deregister_stream_consumer,
 *		list_stream_consumers, consume and checkpoint (the lag function of
 *		the kinesis.consumer_positions view is in consumer_lag.c).
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
#include "streams/streams.h"
#include "streams/read.h"
#include "streams/record_rows.h"
#include "streams/standby.h"
#include "streams/stream_cache.h"

#define KG_MAX_CONSUMERS_PER_STREAM 20
#define KG_CONSUME_MAX_BYTES (10 * 1024 * 1024)
#define KG_CONSUME_CHUNK 10000	/* records per read (kinesis.consume's most) */

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

/* A shard this session leases for the current call. */
typedef struct KgLease
{
	int32		shard_index;
	int64		checkpoint;
} KgLease;

/* An interval of ms milliseconds, as a Datum. */
static Datum
kg_ms_interval(int ms)
{
	return DirectFunctionCall3(interval_in, CStringGetDatum(psprintf("%d ms", ms)),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/*
 * Lease phase "rows": shards made by resharding since the last call start
 * at their beginning.  Inserts only rows that are missing: ON CONFLICT on
 * a row another session has locked would wait for that session.  In
 * kg_catalog_enter.
 */
static void
kg_lease_add_new_shards(KgStream *s, int32 consumer_id)
{
	kg_spi_exec("INSERT INTO kinesis.consumer_shards (consumer_id, shard_index, checkpoint) "
				"SELECT $1, sh.shard_index, sh.starting_sequence_number OPERATOR(pg_catalog.-) 1 FROM kinesis.shards sh "
				"WHERE sh.stream_id OPERATOR(pg_catalog.=) $2 AND NOT EXISTS (SELECT 1 FROM kinesis.consumer_shards cs "
				"WHERE cs.consumer_id OPERATOR(pg_catalog.=) $1 AND cs.shard_index OPERATOR(pg_catalog.=) sh.shard_index) "
				"ON CONFLICT DO NOTHING",
				2, (Oid[]) {INT4OID, INT4OID},
				(Datum[]) {Int32GetDatum(consumer_id), Int32GetDatum(s->stream_id)}, NULL, false);
}

/*
 * Lease phase "sessions": this session is alive for the consumer (each
 * session writes only its own row; rows unseen for ten lease timeouts are
 * removed).  Returns how many other sessions, seen within the lease
 * timeout and still connected, share the shards.  In kg_catalog_enter.
 */
static int
kg_lease_live_others(int32 consumer_id)
{
	int			live_others = 0;

	kg_spi_exec("INSERT INTO kinesis.consumer_sessions (consumer_id, pid, session_start, last_seen) "
				"VALUES ($1, $2, $3, pg_catalog.clock_timestamp()) "
				"ON CONFLICT (consumer_id, pid, session_start) DO UPDATE SET last_seen = excluded.last_seen",
				3, (Oid[]) {INT4OID, INT4OID, TIMESTAMPTZOID},
				(Datum[]) {Int32GetDatum(consumer_id), Int32GetDatum(MyProcPid), TimestampTzGetDatum(MyStartTimestamp)},
				NULL, false);
	kg_spi_exec("DELETE FROM kinesis.consumer_sessions WHERE ctid IN (SELECT ctid FROM kinesis.consumer_sessions "
				"WHERE consumer_id OPERATOR(pg_catalog.=) $1 AND last_seen OPERATOR(pg_catalog.<) "
				"(pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) $2) FOR UPDATE SKIP LOCKED)",
				2, (Oid[]) {INT4OID, INTERVALOID},
				(Datum[]) {Int32GetDatum(consumer_id), kg_ms_interval(10 * kg_lease_timeout_ms)},
				NULL, false);
	if (kg_spi_exec("SELECT pg_catalog.count(*)::int4 FROM kinesis.consumer_sessions cs "
					"WHERE consumer_id OPERATOR(pg_catalog.=) $1 "
					"AND NOT (pid OPERATOR(pg_catalog.=) $2 AND session_start OPERATOR(pg_catalog.=) $3) "
					"AND last_seen OPERATOR(pg_catalog.>) (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) $4) "
					"AND EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid OPERATOR(pg_catalog.=) cs.pid "
					"            AND a.backend_start OPERATOR(pg_catalog.=) cs.session_start)",
					4, (Oid[]) {INT4OID, INT4OID, TIMESTAMPTZOID, INTERVALOID},
					(Datum[]) {Int32GetDatum(consumer_id), Int32GetDatum(MyProcPid), TimestampTzGetDatum(MyStartTimestamp),
							   kg_ms_interval(kg_lease_timeout_ms)},
					NULL, false) > 0)
	{
		bool		isnull;

		live_others = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	return live_others;
}

/*
 * Lease phase "share": this session's fair share of the shards still to
 * read (at least one), with the finished shards in *finished.  In
 * kg_catalog_enter.
 */
static int
kg_lease_fair_share(KgStream *s, int32 consumer_id, int live_others, List **finished)
{
	int			active = 0;
	int			n;
	int			share;

	n = kg_spi_exec("SELECT shard_index, finished FROM kinesis.consumer_shards "
					"WHERE consumer_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(consumer_id)}, NULL, false);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		int32		idx = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		bool		fin = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));

		if (fin)
			*finished = lappend_int(*finished, idx);
		else if (kg_stream_find_shard(s, idx) != NULL)
			active++;
	}
	share = (active + live_others) / (live_others + 1);
	return Max(share, 1);
}

/*
 * Lease phase "lock": lock what we may hold: our own leases, free or
 * expired ones, those of sessions that are gone, and (between its
 * transactions) leases of a live session holding more than its share.  Own
 * first, then free, then taken over; SKIP LOCKED so we never wait for
 * another session.  Returns the rows (shard_index, checkpoint) in
 * SPI_tuptable.  In kg_catalog_enter.
 */
static int
kg_lease_lock_candidates(int32 consumer_id, int share)
{
	return kg_spi_exec("WITH holders AS (SELECT lease_owner, lease_session FROM kinesis.consumer_shards "
					   "  WHERE consumer_id OPERATOR(pg_catalog.=) $1 AND NOT finished "
					   "  AND lease_expires_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp() "
					   "  GROUP BY lease_owner, lease_session HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) $4) "
					   "SELECT shard_index, checkpoint FROM kinesis.consumer_shards cs "
					   "WHERE consumer_id OPERATOR(pg_catalog.=) $1 AND NOT finished AND ("
					   " lease_owner IS NULL OR lease_expires_at OPERATOR(pg_catalog.<) pg_catalog.clock_timestamp() "
					   " OR (lease_owner OPERATOR(pg_catalog.=) $2 AND lease_session OPERATOR(pg_catalog.=) $3) "
					   " OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid OPERATOR(pg_catalog.=) cs.lease_owner "
					   "               AND a.backend_start OPERATOR(pg_catalog.=) cs.lease_session) "
					   " OR EXISTS (SELECT 1 FROM holders h WHERE h.lease_owner OPERATOR(pg_catalog.=) cs.lease_owner "
					   "            AND h.lease_session OPERATOR(pg_catalog.=) cs.lease_session)) "
					   "ORDER BY CASE WHEN lease_owner OPERATOR(pg_catalog.=) $2 AND lease_session OPERATOR(pg_catalog.=) $3 THEN 0 "
					   "WHEN lease_owner IS NULL OR lease_expires_at OPERATOR(pg_catalog.<) pg_catalog.clock_timestamp() THEN 1 "
					   "ELSE 2 END, shard_index FOR UPDATE SKIP LOCKED",
					   4, (Oid[]) {INT4OID, INT4OID, TIMESTAMPTZOID, INT4OID},
					   (Datum[]) {Int32GetDatum(consumer_id), Int32GetDatum(MyProcPid), TimestampTzGetDatum(MyStartTimestamp),
								  Int32GetDatum(share)},
					   NULL, false);
}

/* Is shard sh readable: is every parent still listed finished? */
static bool
kg_lease_parents_done(KgStream *s, KgShard *sh, List *finished)
{
	if (sh->parent_index >= 0 && kg_stream_find_shard(s, sh->parent_index) &&
		!list_member_int(finished, sh->parent_index))
		return false;
	if (sh->adjacent_parent_index >= 0 && kg_stream_find_shard(s, sh->adjacent_parent_index) &&
		!list_member_int(finished, sh->adjacent_parent_index))
		return false;
	return true;
}

/*
 * Lease phase "choose": of the n locked rows in tt, keep up to share
 * eligible ones (into leased, returns how many) and hand the others back
 * (clearing a lease this session held).  In kg_catalog_enter.
 */
static int
kg_lease_choose(KgStream *s, int32 consumer_id, int share, List *finished,
				SPITupleTable *tt, int n, KgLease *leased)
{
	List	   *release = NIL;
	ListCell   *lc;
	int			nleased = 0;

	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		int32		idx = DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		KgShard    *sh = kg_stream_find_shard(s, idx);

		if (sh != NULL && kg_lease_parents_done(s, sh, finished) && nleased < share)
		{
			leased[nleased].shard_index = idx;
			leased[nleased].checkpoint = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
			nleased++;
		}
		else
			release = lappend_int(release, idx);
	}
	foreach(lc, release)
		kg_spi_exec("UPDATE kinesis.consumer_shards SET lease_owner = NULL, lease_session = NULL, "
					"lease_expires_at = NULL WHERE consumer_id OPERATOR(pg_catalog.=) $1 "
					"AND shard_index OPERATOR(pg_catalog.=) $2 AND lease_owner OPERATOR(pg_catalog.=) $3",
					3, (Oid[]) {INT4OID, INT4OID, INT4OID},
					(Datum[]) {Int32GetDatum(consumer_id), Int32GetDatum(lfirst_int(lc)), Int32GetDatum(MyProcPid)},
					NULL, false);
	return nleased;
}

/* Lease phase "stamp": the kept shards are this session's for a lease timeout.  In kg_catalog_enter. */
static void
kg_lease_stamp(int32 consumer_id, KgLease *leased, int nleased)
{
	for (int i = 0; i < nleased; i++)
		kg_spi_exec("UPDATE kinesis.consumer_shards SET lease_owner = $3, lease_session = $4, "
					"lease_expires_at = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) $5 "
					"WHERE consumer_id OPERATOR(pg_catalog.=) $1 AND shard_index OPERATOR(pg_catalog.=) $2",
					5, (Oid[]) {INT4OID, INT4OID, INT4OID, TIMESTAMPTZOID, INTERVALOID},
					(Datum[]) {Int32GetDatum(consumer_id), Int32GetDatum(leased[i].shard_index),
							   Int32GetDatum(MyProcPid), TimestampTzGetDatum(MyStartTimestamp),
							   kg_ms_interval(kg_lease_timeout_ms)},
					NULL, false);
}

/*
 * Lease shards of a consumer for this transaction: lock the rows this
 * session may hold (its own, free, expired, or of a session that is gone),
 * keep about its fair share of the eligible ones, and stamp the lease.
 * Returns the leased eligible shards (KgLease), by shard index.
 */
static List *
kg_acquire_leases(KgStream *s, int32 consumer_id)
{
	KgCatalogContext cc;
	List	   *finished = NIL;
	List	   *leases = NIL;
	KgLease    *leased;
	int			share;
	int			n;
	int			nleased;

	kg_catalog_enter(&cc, false);
	kg_lease_add_new_shards(s, consumer_id);
	share = kg_lease_fair_share(s, consumer_id, kg_lease_live_others(consumer_id), &finished);
	n = kg_lease_lock_candidates(consumer_id, share);
	leased = SPI_palloc(sizeof(KgLease) * Max(n, 1));	/* outlives SPI */
	nleased = kg_lease_choose(s, consumer_id, share, finished, SPI_tuptable, n, leased);
	kg_lease_stamp(consumer_id, leased, nleased);
	kg_catalog_exit(&cc);
	for (int i = 0; i < nleased; i++)
		leases = lappend(leases, &leased[i]);
	return leases;
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

/* Store a shard's new checkpoint (and finished flag) in the caller's transaction. */
static void
kg_store_checkpoint(int32 consumer_id, int32 shard_index, int64 checkpoint, bool finished)
{
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("UPDATE kinesis.consumer_shards SET checkpoint = $3, finished = $4, "
				"checkpointed_at = pg_catalog.clock_timestamp(), "
				"lease_owner = CASE WHEN $4 THEN NULL ELSE lease_owner END "
				"WHERE consumer_id OPERATOR(pg_catalog.=) $1 AND shard_index OPERATOR(pg_catalog.=) $2",
				4, (Oid[]) {INT4OID, INT4OID, INT8OID, BOOLOID},
				(Datum[]) {Int32GetDatum(consumer_id), Int32GetDatum(shard_index),
						   Int64GetDatum(checkpoint), BoolGetDatum(finished)}, NULL, false);
	kg_catalog_exit(&cc);
}

/*
 * One pass: lease, read up to max_records from the leased shards (with
 * to_end, each shard in chunks until it is caught up; else one chunk), move
 * their checkpoints (once per shard).  Returns the number of records
 * stored; *progress is set when a shard finished (children may now be
 * eligible).  The readers' memory lives in a context reset after each chunk.
 */
static int64
kg_consume_once(KgStream *s, int32 consumer_id, int64 max_records, bool to_end,
				KgConsumeSink *sink, bool *progress)
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
		int64		pos = l->checkpoint;
		KgReadResult res;

		if (sh == NULL || total >= max_records)
			continue;
		do
		{
			MemoryContext old = MemoryContextSwitchTo(chunk_cxt);

			kg_record_rows_init(&sink->rows, sink->desc, sh->shard_index);
			kg_read_shard_rows(s, sh, pos, (int) Min(max_records - total, KG_CONSUME_CHUNK),
							   KG_CONSUME_MAX_BYTES, kg_consume_sink, sink, &res);
			MemoryContextSwitchTo(old);
			MemoryContextReset(chunk_cxt);
			total += res.count;
			pos = res.next_position;
			CHECK_FOR_INTERRUPTS();
		} while (to_end && res.more && total < max_records);
		if (pos != l->checkpoint || res.shard_end)
			kg_store_checkpoint(consumer_id, sh->shard_index, pos, res.shard_end);
		if (res.shard_end)
			*progress = true;
	}
	MemoryContextDelete(chunk_cxt);
	return total;
}

/*
 * The checks of a consume as consumer of stream_name, by the current user:
 * a primary, read access to the stream, the consumer exists and the user
 * may consume as it.  Returns the stream; *consumer_id is set.
 */
static KgStream *
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

/*
 * Declared in streams/consume.h: consume as kinesis.consume does (same
 * checks, leases and checkpoints in the caller's transaction), but every
 * record readable now, up to max_records (<= 0: no cap), in one call into
 * store (whose descriptor is desc, kinesis.record's): each leased shard is
 * read to its stable end and its checkpoint moved once; passes repeat while
 * they find records or finish a parent shard (its children become
 * eligible).  Returns the number of records stored.
 */
int64
kg_consume_all(const char *stream_name, const char *consumer, int64 max_records,
			   Tuplestorestate *store, TupleDesc desc)
{
	int32		consumer_id;
	KgStream   *s = kg_consume_open(stream_name, consumer, &consumer_id);
	KgConsumeSink sink;
	int64		total = 0;

	memset(&sink, 0, sizeof(sink));
	sink.store = store;
	sink.desc = desc;
	if (max_records <= 0)
		max_records = PG_INT64_MAX;
	for (;;)
	{
		bool		progress;
		int64		n = kg_consume_once(s, consumer_id, max_records - total, true, &sink, &progress);

		total += n;
		if (total >= max_records || (n == 0 && !progress))
			break;
		if (progress)			/* a parent finished: its children are ready now */
			s = kg_stream_get(stream_name, false);
	}
	return total;
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
		if (kg_consume_once(s, consumer_id, max_records, false, &sink, &progress) > 0)
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
