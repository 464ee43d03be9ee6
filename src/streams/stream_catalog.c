/*-------------------------------------------------------------------------
 *
 * stream_catalog.c
 *		The control plane of data streams: create_stream, delete_stream,
 *		describe_stream_summary, list_shards, the retention changes, the
 *		record distribution strategy and the stability view.
 *
 * Privileges: creating a stream needs CREATE on schema kinesis_records;
 * the creator becomes the stream's owner (kinesis.streams.owner).  The
 * record table kinesis_records.<name> and its segments belong to the
 * extension owner, so no user can attach code to them; the stream owner
 * holds SELECT and INSERT on the record table WITH GRANT OPTION, and GRANTs
 * on that table decide who may put (INSERT) and read (SELECT).  Deleting a
 * stream and changing its retention need the privileges of its owner
 * (kg_stream_owned; superusers pass).  Catalog rows and DDL are written as
 * the extension owner once these checks pass (kg_catalog.c).
 *
 * State transitions are immediate: a stream is ACTIVE when create_stream
 * returns and gone when delete_stream commits.
 *
 * Limits: kg_check_limits (kinesis._check_limits in stream_metadata.sql)
 * refuses a stream, or a reshard (reshard.c), that would pass
 * kinesis_glue.shard_limit open shards or kinesis_glue.on_demand_stream_count_limit
 * ON_DEMAND streams in the database.  The count is what the statement's
 * snapshot sees: concurrent creates or reshards of other streams are not
 * serialised against it and may together pass the limit by their own shards.
 *
 * Locking: create and delete take SHARE ROW EXCLUSIVE on kinesis.streams
 * (serialising control-plane changes, not puts or reads).  delete_stream's
 * DROP TABLE waits for puts and reads in progress on the stream.  Changing
 * the record distribution strategy takes the stream's UPDATING lock
 * (kg_stream_lock_updating, as update_stream_mode does) and its catalog row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "funcapi.h"
#include "nodes/makefuncs.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "common/kg_compat.h"
#include "common/kg_errors.h"
#include "common/kg_shmem.h"
#include "streams/reshard.h"
#include "streams/segments.h"
#include "streams/standby.h"
#include "streams/stream_cache.h"
#include "streams/streams.h"

#define KG_MIN_RETENTION_US (INT64CONST(24) * USECS_PER_HOUR)
#define KG_MAX_RETENTION_US (INT64CONST(8760) * USECS_PER_HOUR)
#define KG_MAX_INITIAL_SHARDS 10000

static void
kg_check_retention(Interval *iv)
{
	int64		us = kg_interval_usecs(iv);

	if (us < KG_MIN_RETENTION_US)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: minimum allowed retention period is 24 hours"),
				 errdetail("The retention period given was %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(iv))))));
	if (us > KG_MAX_RETENTION_US)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: maximum allowed retention period is 8760 hours"),
				 errdetail("The retention period given was %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(iv))))));
}

/* AccessDeniedException unless the caller has the privileges of the stream's owner. */
static void
kg_check_stream_owner(KgStream *s, const char *action)
{
	if (!kg_stream_owned(s))
		ereport(ERROR,
				(errcode(KG_ACCESS_DENIED),
				 errmsg("AccessDeniedException: must be owner of stream \"%s\" to %s it", s->name, action)));
}

/*
 * LimitExceededException when additional_shards more open shards, or one
 * more ON_DEMAND stream, would pass kinesis_glue.shard_limit or
 * kinesis_glue.on_demand_stream_count_limit (kinesis._check_limits).  Call
 * between kg_catalog_enter and kg_catalog_exit (SPI connected).
 */
void
kg_check_limits(const char *stream_name, int additional_shards, bool to_on_demand)
{
	kg_spi_exec("SELECT kinesis._check_limits($1, $2, $3)", 3, (Oid[]) {TEXTOID, INT4OID, BOOLOID},
				(Datum[]) {CStringGetTextDatum(stream_name), Int32GetDatum(additional_shards),
						   BoolGetDatum(to_on_demand)}, NULL, true);
}

/* kg_check_limits outside a catalog section. */
void
kg_check_limits_as_owner(const char *stream_name, int additional_shards, bool to_on_demand)
{
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_check_limits(stream_name, additional_shards, to_on_demand);
	kg_catalog_exit(&cc);
}

/*
 * Create a data stream owned by the current user (who needs CREATE on
 * kinesis_records) with 'shards' shards tiling the hash key space; with 0
 * shards the stream has none yet (kinesis.open_shards adds them).  Name
 * and mode are already validated.
 */
void
kg_stream_create(const char *name, const char *mode, Interval *retention, int shards)
{
	KgCatalogContext cc;
	int32		stream_id;
	char	   *table;
	char	   *qtable;
	Oid			record_table;
	uint128		step;

	kg_check_retention(retention);
	PreventCommandIfReadOnly("kinesis.create_stream()");
	if (pg_namespace_aclcheck(get_namespace_oid("kinesis_records", false), GetUserId(), ACL_CREATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(KG_ACCESS_DENIED),
				 errmsg("AccessDeniedException: permission denied to create data streams"),
				 errhint("A superuser can allow it: GRANT CREATE ON SCHEMA kinesis_records TO %s.",
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));

	kg_catalog_enter(&cc, false);
	kg_spi_exec("LOCK TABLE kinesis.streams IN SHARE ROW EXCLUSIVE MODE", 0, NULL, NULL, NULL, false);
	if (kg_spi_exec("SELECT 1 FROM kinesis.streams WHERE stream_name OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name)}, NULL, false) > 0)
		ereport(ERROR,
				(errcode(KG_RESOURCE_IN_USE),
				 errmsg("ResourceInUseException: stream \"%s\" already exists", name)));
	kg_check_limits(name, shards, strcmp(mode, "ON_DEMAND") == 0);
	kg_spi_exec("INSERT INTO kinesis.streams (stream_name, stream_mode, retention_period, "
				"segment_capacity, next_shard_index, owner) VALUES ($1, $2, $3, $4, $5, $6) RETURNING stream_id",
				6, (Oid[]) {TEXTOID, TEXTOID, INTERVALOID, INT8OID, INT4OID, OIDOID},
				(Datum[]) {CStringGetTextDatum(name), CStringGetTextDatum(mode),
						   IntervalPGetDatum(retention), Int64GetDatum(kg_segment_records),
						   Int32GetDatum(shards), ObjectIdGetDatum(cc.save_userid)}, NULL, false);
	{
		bool		isnull;

		stream_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}

	table = kg_free_relation_name("kinesis_records", name, stream_id);
	qtable = psprintf("kinesis_records.%s", quote_identifier(table));
	kg_spi_exec(psprintf("CREATE TABLE %s ("
						 "shard_index integer NOT NULL, "
						 "sequence_number bigint NOT NULL, "
						 "approximate_arrival_timestamp timestamptz NOT NULL, "
						 "partition_key text NOT NULL, "
						 "data bytea NOT NULL) PARTITION BY RANGE (sequence_number)", qtable),
				0, NULL, NULL, NULL, false);
	/*
	 * Keys are unique by construction (sequence numbers are), so btree
	 * deduplication never merges anything: without it, a full leaf page
	 * splits at once instead of first trying a deduplication pass (about
	 * 3,000 instructions a put_record, amortised).  Segments inherit it.
	 */
	kg_spi_exec(psprintf("CREATE INDEX ON %s (shard_index, sequence_number) WITH (deduplicate_items = off)", qtable),
				0, NULL, NULL, NULL, false);
	kg_spi_exec(psprintf("CREATE TRIGGER forbid_direct_dml BEFORE INSERT OR UPDATE OR DELETE ON %s "
						 "FOR EACH ROW EXECUTE FUNCTION kinesis.forbid_direct_dml()", qtable),
				0, NULL, NULL, NULL, false);
	kg_spi_exec(psprintf("CREATE TRIGGER forbid_truncate BEFORE TRUNCATE ON %s "
						 "FOR EACH STATEMENT EXECUTE FUNCTION kinesis.forbid_direct_dml()", qtable),
				0, NULL, NULL, NULL, false);
	kg_spi_exec(psprintf("COMMENT ON TABLE %s IS %s", qtable,
						 quote_literal_cstr(psprintf("records of data stream %s (read with kinesis.get_records)", name))),
				0, NULL, NULL, NULL, false);
	kg_grant_storage(qtable, cc.save_userid);
	record_table = RangeVarGetRelid(makeRangeVar("kinesis_records", table, -1), NoLock, false);
	kg_spi_exec("UPDATE kinesis.streams SET record_table = $2 WHERE stream_id OPERATOR(pg_catalog.=) $1",
				2, (Oid[]) {INT4OID, OIDOID},
				(Datum[]) {Int32GetDatum(stream_id), ObjectIdGetDatum(record_table)}, NULL, false);

	step = shards > 1 ? kg_hash_step(shards) : 0;
	for (int i = 0; i < shards; i++)
	{
		uint128		start = (uint128) i * step;
		uint128		end = (i == shards - 1) ? KG_HASH_MAX : (uint128) (i + 1) * step - 1;

		kg_spi_exec("INSERT INTO kinesis.shards (stream_id, shard_index, starting_hash_key, "
					"ending_hash_key, starting_sequence_number) VALUES ($1, $2, $3::numeric, $4::numeric, $5)",
					5, (Oid[]) {INT4OID, INT4OID, TEXTOID, TEXTOID, INT8OID},
					(Datum[]) {Int32GetDatum(stream_id), Int32GetDatum(i),
							   CStringGetTextDatum(kg_u128_to_cstring(start)),
							   CStringGetTextDatum(kg_u128_to_cstring(end)),
							   Int64GetDatum(KG_SEQ(0, i))}, NULL, false);
	}
	kg_catalog_exit(&cc);

	/* the first segment now (none exists yet); the worker makes the rest */
	(void) kg_create_segment(stream_id, record_table, kg_segment_records, 0, true, false);
	/* a new stream's numbers start right away, in segment 0 */
	kg_stream_state_restore(kg_stream_state_attach(stream_id), 1);
	kg_stream_changed_at_commit(stream_id, false);
	kg_wake_worker(MyDatabaseId);
}

PG_FUNCTION_INFO_V1(kg_create_stream);

/*
 * kinesis.create_stream(stream_name, shard_count, stream_mode, retention_period)
 */
Datum
kg_create_stream(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *mode = PG_ARGISNULL(2) ? "PROVISIONED" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	Interval	default_retention = {INT64CONST(24) * USECS_PER_HOUR, 0, 0};
	Interval   *retention = PG_ARGISNULL(3) ? &default_retention : PG_GETARG_INTERVAL_P(3);
	int			shards;

	kg_require_shmem();
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	kg_check_stream_name(name);
	if (strcmp(mode, "PROVISIONED") != 0 && strcmp(mode, "ON_DEMAND") != 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: stream mode \"%s\" is not one of PROVISIONED, ON_DEMAND", mode)));
	if (PG_ARGISNULL(1))
		shards = strcmp(mode, "ON_DEMAND") == 0 ? 4 : 1;
	else
	{
		shards = PG_GETARG_INT32(1);
		if (strcmp(mode, "ON_DEMAND") == 0)
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: shard count must not be given for an ON_DEMAND stream"),
					 errhint("Leave shard_count NULL; an ON_DEMAND stream starts with 4 shards.")));
		if (shards < 1 || shards > KG_MAX_INITIAL_SHARDS)
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("ValidationException: shard count must be between 1 and %d", KG_MAX_INITIAL_SHARDS),
					 errdetail("The shard count given was %d.", shards)));
	}
	kg_stream_create(name, mode, retention, shards);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(kg_delete_stream);

/* kinesis.delete_stream(stream_name, enforce_consumer_deletion) */
Datum
kg_delete_stream(PG_FUNCTION_ARGS)
{
	KgStream   *s;
	KgCatalogContext cc;
	bool		enforce = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	int32		stream_id;
	Oid			record_table;
	char	   *name;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name must not be null")));
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	kg_check_stream_owner(s, "delete");
	PreventCommandIfReadOnly("kinesis.delete_stream()");
	stream_id = s->stream_id;
	record_table = s->record_table;
	name = pstrdup(s->name);
	kg_catalog_enter(&cc, false);
	kg_spi_exec("LOCK TABLE kinesis.streams IN SHARE ROW EXCLUSIVE MODE", 0, NULL, NULL, NULL, false);
	if (!enforce &&
		kg_spi_exec("SELECT 1 FROM kinesis.consumers WHERE stream_id OPERATOR(pg_catalog.=) $1 LIMIT 1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, false) > 0)
		ereport(ERROR,
				(errcode(KG_RESOURCE_IN_USE),
				 errmsg("ResourceInUseException: stream \"%s\" has registered consumers", name),
				 errhint("Deregister them, or pass enforce_consumer_deletion => true.")));
	if (kg_spi_exec("SELECT 1 FROM kinesis.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, false) == 0)
		kg_stream_not_found(name);
	kg_spi_exec(psprintf("DROP TABLE IF EXISTS %s CASCADE",
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(record_table)),
													get_rel_name(record_table))),
				0, NULL, NULL, NULL, false);
	kg_spi_exec("DELETE FROM kinesis.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
				1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, false);
	kg_catalog_exit(&cc);
	kg_stream_changed_at_commit(stream_id, true);
	PG_RETURN_VOID();
}

/* Shared body of the two retention changes. */
static void
kg_change_retention(FunctionCallInfo fcinfo, bool increase)
{
	KgStream   *s;
	Interval   *iv;
	int64		us;
	KgCatalogContext cc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name and retention period must not be null")));
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	iv = PG_GETARG_INTERVAL_P(1);
	kg_check_retention(iv);
	us = kg_interval_usecs(iv);
	if (increase && us < s->retention_us)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: the requested retention period is shorter than the current one of stream \"%s\"", s->name),
				 errhint("Use kinesis.decrease_stream_retention_period() to shorten it.")));
	if (!increase && us > s->retention_us)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: the requested retention period is longer than the current one of stream \"%s\"", s->name),
				 errhint("Use kinesis.increase_stream_retention_period() to lengthen it.")));
	kg_check_stream_owner(s, "change the retention period of");
	PreventCommandIfReadOnly(increase ? "kinesis.increase_stream_retention_period()" :
							 "kinesis.decrease_stream_retention_period()");

	kg_catalog_enter(&cc, false);
	/* what has expired stays expired: remember the horizon reached so far */
	kg_spi_exec("UPDATE kinesis.streams SET retention_period = $2, "
				"trim_before = GREATEST(trim_before, $3) WHERE stream_id OPERATOR(pg_catalog.=) $1",
				3, (Oid[]) {INT4OID, INTERVALOID, TIMESTAMPTZOID},
				(Datum[]) {Int32GetDatum(s->stream_id), IntervalPGetDatum(iv),
						   TimestampTzGetDatum(kg_stream_horizon(s))}, NULL, false);
	kg_catalog_exit(&cc);
	kg_stream_changed_at_commit(s->stream_id, false);
}

PG_FUNCTION_INFO_V1(kg_increase_retention);
Datum
kg_increase_retention(PG_FUNCTION_ARGS)
{
	kg_change_retention(fcinfo, true);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(kg_decrease_retention);
Datum
kg_decrease_retention(PG_FUNCTION_ARGS)
{
	kg_change_retention(fcinfo, false);
	PG_RETURN_VOID();
}

/* Number of registered consumers of a stream. */
static int
kg_consumer_count(int32 stream_id)
{
	KgCatalogContext cc;
	int			count = 0;

	kg_catalog_enter(&cc, true);
	if (kg_spi_exec("SELECT count(*)::int4 FROM kinesis.consumers WHERE stream_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, true) > 0)
	{
		bool		isnull;

		count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	kg_catalog_exit(&cc);
	return count;
}

PG_FUNCTION_INFO_V1(kg_describe_stream_summary);

/* kinesis.describe_stream_summary(stream_name), as this transaction sees it */
Datum
kg_describe_stream_summary(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KgStream   *s;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};
	KgCatalogContext cc;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name must not be null")));
	s = kg_stream_get_as_seen(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	InitMaterializedSRF(fcinfo, 0);
	values[0] = CStringGetTextDatum(s->name);
	values[1] = CStringGetTextDatum(s->status);
	values[2] = CStringGetTextDatum(s->mode);
	kg_catalog_enter(&cc, true);
	if (kg_spi_exec("SELECT retention_period FROM kinesis.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(s->stream_id)}, NULL, true) == 0)
		kg_stream_not_found(s->name);
	{
		bool		isnull;

		values[3] = SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
									  false, sizeof(Interval));
	}
	kg_catalog_exit(&cc);
	values[4] = Int32GetDatum(s->nopen);
	values[5] = Int32GetDatum(kg_consumer_count(s->stream_id));
	values[6] = TimestampTzGetDatum(s->created_at);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(kg_list_shards);

/*
 * kinesis.list_shards(stream_name): every shard not expired, by shard id,
 * as this transaction sees them (its own reshards included).
 */
Datum
kg_list_shards(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KgStream   *s;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name must not be null")));
	s = kg_stream_get_as_seen(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < s->nshards; i++)
	{
		KgShard    *sh = &s->shards[i];
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, false};

		if (kg_shard_expired(s, sh))
			continue;

		values[0] = CStringGetTextDatum(kg_shard_id_string(sh->shard_index));
		nulls[1] = sh->parent_index < 0;
		if (!nulls[1])
			values[1] = CStringGetTextDatum(kg_shard_id_string(sh->parent_index));
		nulls[2] = sh->adjacent_parent_index < 0;
		if (!nulls[2])
			values[2] = CStringGetTextDatum(kg_shard_id_string(sh->adjacent_parent_index));
		values[3] = kg_u128_to_numeric(sh->start_hash);
		values[4] = kg_u128_to_numeric(sh->end_hash);
		values[5] = Int64GetDatum(sh->starting_seq);
		nulls[6] = !sh->closed;
		if (sh->closed)
			values[6] = Int64GetDatum(sh->ending_seq);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(kg_stream_stability_sql);

/*
 * kinesis._stream_stability(stream_id): one row for the stability view, with
 * the bound last published for hot standbys.  On a standby only the
 * replayed bound is known: the primary's counter and producers are NULL.
 */
Datum
kg_stream_stability_sql(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	KgStreamStability st;
	Datum		values[6];
	bool		nulls[6] = {true, true, true, true, true, true};
	int64		published;
	TimestampTz published_at;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be composite");
	published = kg_published_bound(PG_GETARG_INT32(0), &published_at);
	if (published_at != 0)
	{
		values[4] = Int64GetDatum(KG_SEQ(published, 0) - 1);
		values[5] = TimestampTzGetDatum(published_at);
		nulls[4] = nulls[5] = false;
	}
	if (RecoveryInProgress())
	{
		/* the standby reads up to the replayed bound; it knows nothing else */
		values[1] = values[4];
		nulls[1] = nulls[4];
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
	}
	if (!kg_stream_stability(PG_GETARG_INT32(0), &st) || !st.loaded)
	{
		/* not touched since startup: load it so the figures are real */
		KgStream   *s = kg_stream_get_by_id(PG_GETARG_INT32(0), true);

		if (s == NULL || !kg_stream_stability(PG_GETARG_INT32(0), &st))
			PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
	}
	values[0] = Int64GetDatum(KG_SEQ(st.next_counter, 0) - 1);
	values[1] = Int64GetDatum(KG_SEQ(st.stable_bound, 0) - 1);
	values[2] = Int32GetDatum(st.open_producers);
	values[3] = TimestampTzGetDatum(st.oldest_producer_start);
	nulls[0] = nulls[1] = nulls[2] = false;
	nulls[3] = st.open_producers == 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

PG_FUNCTION_INFO_V1(kg_set_throughput_quotas);

/* kinesis.set_throughput_quotas(stream_name, enabled): NULL follows the setting. */
Datum
kg_set_throughput_quotas(PG_FUNCTION_ARGS)
{
	KgStream   *s;
	KgCatalogContext cc;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name must not be null")));
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	kg_check_stream_owner(s, "change the throughput quotas of");
	PreventCommandIfReadOnly("kinesis.set_throughput_quotas()");
	kg_catalog_enter(&cc, false);
	kg_spi_exec("UPDATE kinesis.streams SET throughput_quotas = $2 WHERE stream_id OPERATOR(pg_catalog.=) $1",
				2, (Oid[]) {INT4OID, BOOLOID},
				(Datum[]) {Int32GetDatum(s->stream_id), PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1)},
				PG_ARGISNULL(1) ? " n" : "  ", false);
	kg_catalog_exit(&cc);
	kg_stream_changed_at_commit(s->stream_id, false);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(kg_update_record_distribution);

/*
 * kinesis.update_stream_record_distribution_strategy(stream_name, strategy):
 * USER_PARTITION_KEY or AUTO (ON_DEMAND streams only).  Same rights as
 * update_stream_mode: the stream's owner.  Takes the stream's UPDATING lock
 * (as a reshard or a mode change does, ResourceInUseException when another
 * transaction holds it), so a concurrent switch to PROVISIONED cannot pass
 * between the mode check and the update; the mode is read as this
 * transaction sees it (a create_stream or update_stream_mode earlier in it
 * counts).  Puts see the change when it commits (shared version).
 */
Datum
kg_update_record_distribution(PG_FUNCTION_ARGS)
{
	KgStream   *s;
	char	   *strategy;
	char	   *mode;
	KgCatalogContext cc;
	int32		stream_id;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name and record distribution strategy must not be null")));
	strategy = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strcmp(strategy, "AUTO") != 0 && strcmp(strategy, "USER_PARTITION_KEY") != 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: record distribution strategy \"%s\" is not one of AUTO, USER_PARTITION_KEY",
						strategy)));
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	kg_check_stream_owner(s, "change the record distribution strategy of");
	PreventCommandIfReadOnly("kinesis.update_stream_record_distribution_strategy()");
	kg_stream_lock_updating(s);
	stream_id = s->stream_id;
	kg_catalog_enter(&cc, false);
	if (kg_spi_exec("SELECT stream_mode FROM kinesis.streams WHERE stream_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, false) == 0)
		kg_stream_not_found(s->name);	/* deleted meanwhile */
	mode = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(strategy, "AUTO") == 0 && strcmp(mode, "ON_DEMAND") != 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: the AUTO record distribution strategy is only supported for ON_DEMAND streams; stream \"%s\" is %s",
						s->name, mode),
				 errhint("Switch it first with kinesis.update_stream_mode(stream_name, 'ON_DEMAND').")));
	kg_spi_exec("UPDATE kinesis.streams SET record_distribution_strategy = $2 WHERE stream_id OPERATOR(pg_catalog.=) $1",
				2, (Oid[]) {INT4OID, TEXTOID},
				(Datum[]) {Int32GetDatum(stream_id), CStringGetTextDatum(strategy)}, NULL, false);
	kg_catalog_exit(&cc);
	kg_stream_changed_at_commit(stream_id, false);
	PG_RETURN_VOID();
}
