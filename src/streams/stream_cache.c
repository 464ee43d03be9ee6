/*-------------------------------------------------------------------------
 *
 * stream_cache.c
 *		Backend-local cache of stream metadata: the catalog row, the shards
 *		(with open shards sorted for routing) and segment relation OIDs.
 *
 * An entry is valid while the stream's shared version equals the version
 * it was read at.  Loading reads the version first and the catalog after,
 * with a fresh snapshot, so a change committed in between only makes the
 * entry look stale (never fresh when it is not).  Loading also restores the
 * shared counter after a restart, past every number ever handed out (see
 * kg_restore_counter).
 *
 * An entry is what routing uses, and a reshard changes it only when it
 * commits (the shared version moves then).  A transaction that resharded
 * or changed a stream describes it through kg_stream_get_as_seen instead:
 * a private copy read from the catalog, which shows its own changes.
 *
 * Locking: AccessShareLock on segment relations while restoring.  No
 * shared locks are held between calls.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "nodes/execnodes.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "common/int.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "common/kg_catalog.h"
#include "common/kg_errors.h"
#include "common/kg_guc.h"
#include "streams/streams.h"
#include "common/kg_shmem.h"
#include "streams/stream_cache.h"
#include "worker/kg_worker.h"

static HTAB *StreamCache = NULL;

typedef struct KgSegmentEntry
{
	int64		segment_no;
	Oid			relid;
	int			nindexes;		/* -1: not looked up yet */
	Oid		   *index_oids;
	IndexInfo **index_infos;
} KgSegmentEntry;

/* Raise ResourceNotFoundException for a stream. */
void
kg_stream_not_found(const char *name)
{
	ereport(ERROR,
			(errcode(KG_RESOURCE_NOT_FOUND),
			 errmsg("ResourceNotFoundException: stream \"%s\" does not exist", name),
			 errhint("List the data streams with kinesis.list_streams().")));
}

/* ValidationException unless name is 1-128 characters of [a-zA-Z0-9_.-]. */
void
kg_check_stream_name(const char *name)
{
	size_t		len = strlen(name);

	if (len < 1 || len > KG_STREAM_NAME_MAX)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: stream name must have 1 to %d characters", KG_STREAM_NAME_MAX)));
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("ValidationException: stream name \"%s\" must satisfy the pattern [a-zA-Z0-9_.-]+", name)));
}

/*
 * Length of an interval in microseconds, months counted as 30 days;
 * saturates at PG_INT64_MAX / PG_INT64_MIN instead of overflowing (so
 * "1000000 years" compares as longer than any limit, never as negative).
 */
int64
kg_interval_usecs(Interval *iv)
{
	int64		days;
	int64		us;

	/* months * 30 + days fits in int64; only the microseconds can overflow */
	days = (int64) iv->month * DAYS_PER_MONTH + iv->day;
	if (pg_mul_s64_overflow(days, USECS_PER_DAY, &us) ||
		pg_add_s64_overflow(us, iv->time, &us))
		return (days > 0 || (days == 0 && iv->time > 0)) ? PG_INT64_MAX : PG_INT64_MIN;
	return us;
}

/*
 * Does the current user have the privileges of the stream's owner?
 * (Superusers always do, even when the owner role no longer exists.)
 */
bool
kg_stream_owned(KgStream *s)
{
	return has_privs_of_role(GetUserId(), s->owner);
}

/*
 * The shard id of an index, "shardId-" and 12 digits (palloc'd).  Written
 * by hand: every put_record and read names its shard, and psprintf cost
 * about 600 instructions of a 70,000-instruction put_record.
 */
char *
kg_shard_id_string(int32 shard_index)
{
	char	   *buf;
	uint32		v = (uint32) shard_index;

	if (shard_index < 0)
		return psprintf("shardId-%012d", shard_index);
	buf = palloc(8 + 12 + 1);
	memcpy(buf, "shardId-", 8);
	for (int i = 8 + 12 - 1; i >= 8; i--)
	{
		buf[i] = '0' + v % 10;
		v /= 10;
	}
	buf[8 + 12] = '\0';
	return buf;
}

/*
 * Parse a shard id leniently, as Kinesis does: the part after the first '-'
 * (or the whole string) must be decimal digits up to 2147483647.
 */
int32
kg_parse_shard_id(const char *stream_name, const char *shard_id)
{
	const char *dash = strchr(shard_id, '-');
	const char *digits = dash ? dash + 1 : shard_id;
	int64		v = 0;
	bool		ok = (*digits != '\0');

	for (const char *p = digits; ok && *p; p++)
	{
		if (*p < '0' || *p > '9')
			ok = false;
		else
		{
			v = v * 10 + (*p - '0');
			if (v > PG_INT32_MAX)
				ok = false;
		}
	}
	if (!ok)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: could not find shard \"%s\" in stream \"%s\"",
						shard_id, stream_name),
				 errhint("Shard ids look like shardId-000000000000; see kinesis.list_shards().")));
	return (int32) v;
}

char *
kg_segment_relname(int32 stream_id, int64 segment_no)
{
	return psprintf("s%d_%lld", stream_id, (long long) segment_no);
}

static void
kg_cache_init(void)
{
	HASHCTL		ctl;

	if (StreamCache)
		return;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = KG_STREAM_NAME_MAX + 1;
	ctl.entrysize = sizeof(KgStream);
	ctl.hcxt = CacheMemoryContext;
	StreamCache = hash_create("kinesis_glue stream cache", 64, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

static int
kg_open_cmp(const void *a, const void *b)
{
	const KgShard *x = *(KgShard *const *) a;
	const KgShard *y = *(KgShard *const *) b;

	return x->start_hash < y->start_hash ? -1 : (x->start_hash > y->start_hash ? 1 : 0);
}

/*
 * Restore the shared counter of a stream whose entry is not loaded (after a
 * restart): above every number ever handed out, committed or not.  A put
 * returns a number only after inserting it into its segment, and segments
 * are created (and committed) before use, so every number handed out lies
 * below the end of the newest segment in the catalog.  Restarting there
 * leaves a gap, which is allowed; reusing a number is not.
 */
static void
kg_restore_counter(KgStream *s)
{
	KgCatalogContext cc;
	int64		next = 0;

	kg_catalog_enter(&cc, true);
	if (kg_spi_exec("SELECT max(segment_no) FROM kinesis.segments WHERE stream_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(s->stream_id)}, NULL, true) > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			next = (DatumGetInt64(d) + 1) * s->segment_capacity;
	}
	kg_catalog_exit(&cc);

	/* shards made by resharding start at a counter too */
	for (int i = 0; i < s->nshards; i++)
	{
		int64		c = KG_SEQ_COUNTER(s->shards[i].starting_seq) + 1;

		if (s->shards[i].closed)
			c = Max(c, KG_SEQ_COUNTER(s->shards[i].ending_seq) + 1);
		if (c > next)
			next = c;
	}
	kg_stream_state_restore(s->state, next);
}

/* Read the shards of s (fresh snapshot) into s->cxt. */
static void
kg_load_shards(KgStream *s)
{
	KgCatalogContext cc;
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(s->stream_id)};
	int			n;

	kg_catalog_enter(&cc, true);
	n = kg_spi_exec("SELECT shard_index, coalesce(parent_shard_index, -1), "
					"coalesce(adjacent_parent_shard_index, -1), starting_hash_key::text, "
					"ending_hash_key::text, starting_sequence_number, ending_sequence_number, closed_at "
					"FROM kinesis.shards WHERE stream_id OPERATOR(pg_catalog.=) $1 ORDER BY shard_index",
					1, argtypes, values, NULL, true);
	s->shards = MemoryContextAllocZero(s->cxt, sizeof(KgShard) * Max(n, 1));
	s->open = MemoryContextAllocZero(s->cxt, sizeof(KgShard *) * Max(n, 1));
	s->nshards = n;
	s->nopen = 0;
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		KgShard    *sh = &s->shards[i];
		bool		isnull;

		sh->shard_index = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		sh->parent_index = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		sh->adjacent_parent_index = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		if (!kg_cstring_to_u128(SPI_getvalue(tup, desc, 4), &sh->start_hash) ||
			!kg_cstring_to_u128(SPI_getvalue(tup, desc, 5), &sh->end_hash))
			elog(ERROR, "corrupt hash key range in kinesis.shards");
		sh->starting_seq = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
		sh->ending_seq = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		sh->closed = !isnull;
		if (sh->closed)
			sh->closed_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 8, &isnull));
		if (!sh->closed)
			s->open[s->nopen++] = sh;
	}
	kg_catalog_exit(&cc);
	qsort(s->open, s->nopen, sizeof(KgShard *), kg_open_cmp);
}

/*
 * Read the catalog row of stream s->stream_id (fresh snapshot, which sees
 * this transaction's own changes) into s.  False when it is gone.
 */
static bool
kg_read_stream_row(KgStream *s)
{
	KgCatalogContext cc;
	int			n;

	kg_catalog_enter(&cc, true);
	n = kg_spi_exec("SELECT record_table::oid, segment_capacity, stream_creation_timestamp, "
					"retention_period, "
					"stream_status, stream_mode, throughput_quotas, trim_before, owner::pg_catalog.oid, "
					"record_distribution_strategy OPERATOR(pg_catalog.=) 'AUTO' "
					"FROM kinesis.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(s->stream_id)}, NULL, true);
	if (n == 0)
	{
		kg_catalog_exit(&cc);
		return false;
	}
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		s->record_table = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		s->segment_capacity = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		s->created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
		s->retention_us = kg_interval_usecs(DatumGetIntervalP(SPI_getbinval(tup, desc, 4, &isnull)));
		strlcpy(s->status, SPI_getvalue(tup, desc, 5), sizeof(s->status));
		strlcpy(s->mode, SPI_getvalue(tup, desc, 6), sizeof(s->mode));
		{
			Datum		q = SPI_getbinval(tup, desc, 7, &isnull);

			s->quotas = isnull ? -1 : (DatumGetBool(q) ? 1 : 0);
			q = SPI_getbinval(tup, desc, 8, &isnull);
			s->trim_before = isnull ? 0 : DatumGetTimestampTz(q);
		}
		s->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 9, &isnull));
		s->auto_distribution = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
	}
	kg_catalog_exit(&cc);
	return true;
}

/*
 * (Re)load the entry for a stream, by name.  Returns NULL when the stream
 * does not exist.
 */
static KgStream *
kg_stream_load(const char *name)
{
	KgCatalogContext cc;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	KgStream   *s;
	bool		found;
	int			n;
	int32		stream_id;
	KgStreamState *st;
	HASHCTL		ctl;

	kg_cache_init();
	s = hash_search(StreamCache, name, HASH_ENTER, &found);
	if (found && s->cxt)
		MemoryContextDelete(s->cxt);
	s->valid = false;
	s->cxt = NULL;

	/* the id first, then the version, then everything else */
	kg_catalog_enter(&cc, true);
	n = kg_spi_exec("SELECT stream_id FROM kinesis.streams WHERE stream_name OPERATOR(pg_catalog.=) $1",
					1, argtypes, values, NULL, true);
	if (n == 0)
	{
		kg_catalog_exit(&cc);
		hash_search(StreamCache, name, HASH_REMOVE, NULL);
		return NULL;
	}
	{
		bool		isnull;

		stream_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	kg_catalog_exit(&cc);

	st = kg_stream_state_attach(stream_id);
	SpinLockAcquire(&st->mutex);
	s->version = st->version;
	SpinLockRelease(&st->mutex);
	s->state = st;
	s->stream_id = stream_id;

	if (!kg_read_stream_row(s))
	{
		hash_search(StreamCache, name, HASH_REMOVE, NULL);
		return NULL;
	}
	if (!OidIsValid(s->record_table) || get_rel_name(s->record_table) == NULL)
	{
		/* deleted meanwhile (or being created by an open transaction) */
		hash_search(StreamCache, name, HASH_REMOVE, NULL);
		return NULL;
	}
	if (kg_storage_unsealed(s->record_table))
	{
		/*
		 * A restore (pg_dump) is still recreating the storage: the catalog
		 * may not list every segment yet, so the counter cannot be restored
		 * (kg_restore_counter) and nothing may touch the stream.
		 */
		hash_search(StreamCache, name, HASH_REMOVE, NULL);
		ereport(ERROR,
				(errcode(KG_RESOURCE_IN_USE),
				 errmsg("ResourceInUseException: stream \"%s\" is being restored", name),
				 errdetail("Its record table does not have its triggers yet."),
				 errhint("Wait for the restore (pg_restore or psql) to finish.")));
	}

	s->cxt = AllocSetContextCreate(CacheMemoryContext, "kinesis_glue stream",
								   ALLOCSET_SMALL_SIZES);
	kg_load_shards(s);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(KgSegmentEntry);
	ctl.hcxt = s->cxt;
	s->segments = hash_create("kinesis_glue segments", 16, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	s->nudged_segment = -1;

	if (!st->loaded)
		kg_restore_counter(s);
	s->loaded_lxid = MyProc->lxid;
	s->valid = true;
	return s;
}

/*
 * Forget every cached stream (after a rollback of a metadata change made
 * by this backend, whose shared version never moved).  Memory is freed
 * lazily: entries are only marked invalid, so pointers held by a caller
 * stay readable.
 */
void
kg_stream_cache_reset(void)
{
	HASH_SEQ_STATUS hs;
	KgStream   *e;

	if (StreamCache == NULL)
		return;
	hash_seq_init(&hs, StreamCache);
	while ((e = hash_seq_search(&hs)) != NULL)
		e->valid = false;
}

/* Is a cache entry still current? */
static bool
kg_stream_is_current(KgStream *s)
{
	KgStreamState *st = s->state;
	bool		ok;

	/*
	 * On a hot standby nobody bumps the shared version when the primary
	 * changes a stream (reshard, retention, delete), so a copy serves one
	 * transaction only and is read again in the next.
	 */
	if (RecoveryInProgress() && s->loaded_lxid != MyProc->lxid)
		return false;

	SpinLockAcquire(&st->mutex);
	ok = st->key.stream_id == s->stream_id && st->key.dboid == MyDatabaseId &&
		!st->dropped && st->version == s->version && st->loaded;
	SpinLockRelease(&st->mutex);
	return ok;
}

/*
 * Metadata of a stream by name, current as of now.  Raises
 * ResourceNotFoundException unless missing_ok.
 */
KgStream *
kg_stream_get(const char *name, bool missing_ok)
{
	KgStream   *s;

	kg_require_shmem();
	kg_check_stream_name(name);
	kg_cache_init();
	s = hash_search(StreamCache, name, HASH_FIND, NULL);
	if (s && s->valid && kg_stream_is_current(s))
		return s;
	s = kg_stream_load(name);
	if (s == NULL && !missing_ok)
		kg_stream_not_found(name);
	return s;
}

/*
 * Metadata of a stream as the current transaction sees it, for the
 * describing functions.  The cache holds what is committed (producers must
 * route with the committed layout until a reshard commits), so a stream
 * this transaction has resharded or changed is read from the catalog into
 * a copy in the current memory context; any other stream is the cached
 * entry (the fast path).  The copy is for reading metadata only: its
 * segments are not loaded.
 */
KgStream *
kg_stream_get_as_seen(const char *name)
{
	KgStream   *s = kg_stream_get(name, false);
	KgStream   *own;

	if (!kg_stream_changed_in_xact(s->stream_id))
		return s;
	own = palloc(sizeof(KgStream));
	memcpy(own, s, sizeof(KgStream));
	own->valid = false;			/* not a cache entry */
	own->segments = NULL;
	own->cxt = CurrentMemoryContext;
	if (!kg_read_stream_row(own))
		kg_stream_not_found(name);
	kg_load_shards(own);
	return own;
}

/* Force a reload of an entry (after a failed version check). */
KgStream *
kg_stream_reload(KgStream *s)
{
	char		name[KG_STREAM_NAME_MAX + 1];
	KgStream   *r;

	strlcpy(name, s->name, sizeof(name));
	r = kg_stream_load(name);
	if (r == NULL)
		kg_stream_not_found(name);
	return r;
}

/* Metadata of a stream by id (used by iterators and the worker). */
KgStream *
kg_stream_get_by_id(int32 stream_id, bool missing_ok)
{
	KgCatalogContext cc;
	char	   *name = NULL;
	int			n;

	kg_require_shmem();
	kg_cache_init();

	/* a current cache entry answers without a catalog read */
	{
		HASH_SEQ_STATUS hs;
		KgStream   *e;

		hash_seq_init(&hs, StreamCache);
		while ((e = hash_seq_search(&hs)) != NULL)
		{
			if (e->valid && e->stream_id == stream_id && kg_stream_is_current(e))
			{
				hash_seq_term(&hs);
				return e;
			}
		}
	}

	kg_catalog_enter(&cc, true);
	n = kg_spi_exec("SELECT stream_name FROM kinesis.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, true);
	if (n > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(CurTransactionContext);

		name = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		MemoryContextSwitchTo(old);
	}
	kg_catalog_exit(&cc);
	if (name == NULL)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: the data stream no longer exists")));
	}
	return kg_stream_get(name, missing_ok);
}

/*
 * A closed shard expires (disappears from listings and lookups) once all
 * its records are past the retention period: it closed before the horizon.
 */
bool
kg_shard_expired(KgStream *s, KgShard *sh)
{
	return sh->closed && sh->closed_at < kg_stream_horizon(s);
}

/*
 * The trim horizon: records that arrived before it have expired.  It is
 * now minus the retention period, but never earlier than a horizon an
 * earlier, shorter retention period reached (increasing the retention
 * does not bring expired records back).
 */
TimestampTz
kg_stream_horizon(KgStream *s)
{
	TimestampTz h = KG_RETENTION_NOW() - s->retention_us;

	return Max(h, s->trim_before);
}

/* Are the throughput quotas enforced on this stream? */
bool
kg_stream_quotas_on(KgStream *s)
{
	return s->quotas < 0 ? kg_throughput_quotas : s->quotas == 1;
}

/* Does the put path count this stream's writes per shard? */
bool
kg_stream_metered(KgStream *s)
{
	return kg_stream_quotas_on(s) || strcmp(s->mode, "ON_DEMAND") == 0;
}

/* The shard with this index, or NULL (unknown or expired). */
KgShard *
kg_stream_find_shard(KgStream *s, int32 shard_index)
{
	int			lo = 0,
				hi = s->nshards - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (s->shards[mid].shard_index == shard_index)
			return kg_shard_expired(s, &s->shards[mid]) ? NULL : &s->shards[mid];
		if (s->shards[mid].shard_index < shard_index)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* The open shard whose hash key range holds hash. */
KgShard *
kg_stream_route(KgStream *s, uint128 hash)
{
	int			lo = 0,
				hi = s->nopen - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		KgShard    *sh = s->open[mid];

		if (hash < sh->start_hash)
			hi = mid - 1;
		else if (hash > sh->end_hash)
			lo = mid + 1;
		else
			return sh;
	}
	ereport(ERROR,
			(errcode(KG_INVALID_ARGUMENT),
			 errmsg("InvalidArgumentException: no open shard of stream \"%s\" on this server covers hash key %s",
					s->name, kg_u128_to_cstring(hash)),
			 errdetail("The shard of that range was handed to another server (kinesis.close_shard)."),
			 errhint("Put through kinesis_cluster, which routes each key to the server that holds it.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * OID of the relation of a segment, or InvalidOid when it does not exist
 * (not yet created, or expired).
 */
Oid
kg_segment_relid(KgStream *s, int64 segment_no)
{
	KgSegmentEntry *e;
	bool		found;
	Oid			relid;

	e = hash_search(s->segments, &segment_no, HASH_FIND, &found);
	if (e)
		return e->relid;
	AcceptInvalidationMessages();
	relid = get_relname_relid(kg_segment_relname(s->stream_id, segment_no),
							  get_namespace_oid("kinesis_segments", false));
	if (OidIsValid(relid))
	{
		e = hash_search(s->segments, &segment_no, HASH_ENTER, &found);
		e->relid = relid;
		e->nindexes = -1;
	}
	return relid;
}

/*
 * The indexes of an open segment relation, with their IndexInfo, cached for
 * the put path (segments never change their indexes: DDL on them is
 * refused).  Returns the number of indexes.
 */
int
kg_segment_indexes(KgStream *s, int64 segment_no, Relation rel, Oid **oids, IndexInfo ***infos)
{
	KgSegmentEntry *e = hash_search(s->segments, &segment_no, HASH_FIND, NULL);

	if (e == NULL || e->relid != RelationGetRelid(rel))
		elog(ERROR, "segment %lld of stream \"%s\" is not cached", (long long) segment_no, s->name);
	if (e->nindexes < 0)
	{
		List	   *indexes = RelationGetIndexList(rel);
		MemoryContext old = MemoryContextSwitchTo(s->cxt);
		int			i = 0;
		ListCell   *lc;

		e->index_oids = palloc(sizeof(Oid) * Max(list_length(indexes), 1));
		e->index_infos = palloc(sizeof(IndexInfo *) * Max(list_length(indexes), 1));
		foreach(lc, indexes)
		{
			Relation	irel = index_open(lfirst_oid(lc), AccessShareLock);

			e->index_oids[i] = lfirst_oid(lc);
			e->index_infos[i] = BuildIndexInfo(irel);
			index_close(irel, AccessShareLock);
			i++;
		}
		MemoryContextSwitchTo(old);
		e->nindexes = i;
	}
	*oids = e->index_oids;
	*infos = e->index_infos;
	return e->nindexes;
}
