/*-------------------------------------------------------------------------
 *
 * consumer_leases.c
 *		The leases and checkpoints of named consumers (kinesis.consumer_shards),
 *		shared by kinesis.consume (consumers.c) and the consume reader
 *		(consume_reader.c).
 *
 * A consume leases shards before it reads them: it locks the rows this
 * session may hold (its own, free, expired, or of a session that is gone;
 * FOR UPDATE SKIP LOCKED, so two sessions of one consumer never get the
 * same shard and never wait for each other), keeps about its fair share
 * (shards divided by live holders, handing extras back) of those whose
 * parents are finished, and stamps the lease.  After the read it moves the
 * shard's checkpoint in the caller's transaction.
 *
 * Runs its SQL as the extension owner with a pinned search_path
 * (kg_catalog_enter); the caller has made the rights checks.
 *
 * Locking: row locks on the consumer's kinesis.consumer_shards rows, held
 * to the end of the caller's transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "streams/consumer_leases.h"
#include "streams/streams.h"

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
List *
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

/* Store a shard's new checkpoint (and finished flag) in the caller's transaction. */
void
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
