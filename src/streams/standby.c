/*-------------------------------------------------------------------------
 *
 * standby.c
 *		Reads on hot standbys.  The primary's worker publishes each
 *		stream's stable bound in kinesis.stream_bounds; a standby reads up
 *		to the newest bound it has replayed.
 *
 * Why a catalog row (and not a custom WAL record): the worker computes the
 * bound B from the producers' in-flight marks, so every transaction that
 * holds a counter below B has ended (its commit record is in WAL) before
 * B is read; the row carrying B is committed after that, so its commit
 * record comes later in WAL.  Replay is in WAL order, and a standby's
 * snapshot taken after it has seen the row sees every commit replayed
 * before the row's, i.e. every record below B in its final state.  A row
 * needs no custom resource manager (which every standby would have to
 * load before replay) and can be read with SQL; the bound survives
 * restarts and promotion of the standby.  The price: PostgreSQL has no
 * hook when a row is replayed, so a waiting read on a standby polls the
 * row (kg_standby_poll_ms) instead of sleeping on the commit condition
 * variable as on the primary.
 *
 * Staleness: a standby reader is behind the primary's bound by at most
 * kinesis_glue.standby_bound_interval (plus one worker round's work) plus
 * the standby's replay lag.  The bound only moves forward (the UPDATE
 * never lowers it), so a standby reader never returns N+1 and later N.
 *
 * Locking: the worker is the only writer of kinesis.stream_bounds (one
 * transaction per round, rows of streams whose bound moved, and removal of
 * the rows of deleted streams); the table has no foreign key, so the worker
 * takes no lock on kinesis.streams rows and cannot deadlock with a
 * transaction deleting several streams.  Readers read it with a fresh
 * snapshot before taking the snapshot of their scan.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_authid_d.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "replication/walreceiver.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "common/kg_guc.h"
#include "streams/streams.h"
#include "streams/standby.h"
#include "streams/stream_cache.h"
#include "streams/stream_state.h"
#include "worker/kg_worker.h"

/* Worker task interval: the setting, or the naptime when publishing is off. */
int
kg_standby_publish_interval_ms(void)
{
	return kg_standby_bound_interval_ms > 0 ? kg_standby_bound_interval_ms : kg_worker_naptime_ms;
}

/*
 * Transaction body: publish the bound of every stream whose in-memory bound
 * moved past the published one.  Streams not touched since startup are
 * loaded (their counter restored past the newest segment, above every
 * number handed out), so their bound is real too.
 */
static void
kg_publish_bounds_xact(void *arg)
{
	KgCatalogContext cc;
	int			n;
	int32	   *ids;
	int64	   *old;
	bool	   *has_old;

	kg_catalog_enter(&cc, false);
	/* rows of deleted streams (a delete that committed since the last round) */
	kg_spi_exec("DELETE FROM kinesis.stream_bounds b WHERE NOT EXISTS "
				"(SELECT FROM kinesis.streams s WHERE s.stream_id OPERATOR(pg_catalog.=) b.stream_id)",
				0, NULL, NULL, NULL, false);
	n = kg_spi_exec("SELECT s.stream_id, b.stable_counter FROM kinesis.streams s "
					"LEFT JOIN kinesis.stream_bounds b ON b.stream_id OPERATOR(pg_catalog.=) s.stream_id "
					"ORDER BY s.stream_id", 0, NULL, NULL, NULL, true);
	ids = palloc(sizeof(int32) * Max(n, 1));
	old = palloc(sizeof(int64) * Max(n, 1));
	has_old = palloc(sizeof(bool) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		old[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		has_old[i] = !isnull;
	}
	for (int i = 0; i < n; i++)
	{
		KgStream   *s = kg_stream_get_by_id(ids[i], true);
		int64		bound;

		if (s == NULL)
			continue;
		bound = kg_stream_stable_bound(s->state);
		if (has_old[i] && bound <= old[i])
			continue;
		kg_spi_exec("INSERT INTO kinesis.stream_bounds AS b (stream_id, stable_counter, published_at) "
					"VALUES ($1, $2, pg_catalog.clock_timestamp()) "
					"ON CONFLICT (stream_id) DO UPDATE SET stable_counter = excluded.stable_counter, "
					"published_at = excluded.published_at "
					"WHERE b.stable_counter OPERATOR(pg_catalog.<) excluded.stable_counter",
					2, (Oid[]) {INT4OID, INT8OID},
					(Datum[]) {Int32GetDatum(ids[i]), Int64GetDatum(bound)}, NULL, false);
	}
	kg_catalog_exit(&cc);
}

/* Worker task: publish the stable bounds (on the primary; off when the setting is 0). */
void
kg_standby_publish_bounds(void)
{
	if (kg_standby_bound_interval_ms <= 0 || RecoveryInProgress())
		return;
	(void) kg_run_in_transaction("kinesis_glue: publish stable bounds", kg_publish_bounds_xact, NULL);
}

/*
 * The stable counter last published for a stream (on a standby: the newest
 * replayed), read with a fresh snapshot; 0 (nothing readable) when none was
 * published yet.  *published_at gets its time (0 when none) unless NULL.
 * The caller takes its scan snapshot after this returns.
 */
int64
kg_published_bound(int32 stream_id, TimestampTz *published_at)
{
	KgCatalogContext cc;
	int64		bound = 0;

	if (published_at)
		*published_at = 0;
	kg_catalog_enter(&cc, true);
	if (kg_spi_exec("SELECT stable_counter, published_at FROM kinesis.stream_bounds "
					"WHERE stream_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, true) > 0)
	{
		bool		isnull;

		bound = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (published_at)
			*published_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc, 2, &isnull));
	}
	kg_catalog_exit(&cc);
	return bound;
}

/*
 * Sleep between two looks at the replayed bound in a waiting read on a
 * standby: a tenth of the publishing interval, 5 to 50 ms.
 */
int
kg_standby_poll_ms(void)
{
	return Min(Max(kg_standby_bound_interval_ms / 10, 5), 50);
}

/*
 * Words naming the primary of this standby for error messages: its address
 * as the WAL receiver is connected to it, shown (as pg_stat_wal_receiver
 * does) only to roles with the privileges of pg_read_all_stats; never the
 * rest of primary_conninfo (user, password).
 */
char *
kg_standby_primary(void)
{
	char		host[NI_MAXHOST];
	int			port;

	if (WalRcv == NULL)
		return pstrdup("the primary server");
	SpinLockAcquire(&WalRcv->mutex);
	strlcpy(host, (char *) WalRcv->sender_host, sizeof(host));
	port = WalRcv->sender_port;
	SpinLockRelease(&WalRcv->mutex);
	if (host[0] == '\0')
		return pstrdup("the primary server (this standby is not streaming from it now)");
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS))
		return pstrdup("the primary server (its address is shown to roles with the privileges of pg_read_all_stats)");
	return psprintf("the primary server at host \"%s\" port %d", host, port);
}

/*
 * Refuse a function that writes (consume takes leases, checkpoint stores
 * positions) during recovery, naming the primary.  what names the function.
 */
void
kg_refuse_write_in_recovery(const char *what)
{
	if (!RecoveryInProgress())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 errmsg("cannot execute %s on a hot standby", what),
			 errdetail("%s writes (consumer leases and checkpoints); a standby only reads.", what),
			 errhint("Run it on %s, or read this standby with get_records or read_shard.",
					 kg_standby_primary())));
}
