/*-------------------------------------------------------------------------
 *
 * reshard.c
 *		split_shard, merge_shards, update_shard_count, update_stream_mode,
 *		and close_shard / open_shards, which hand a hash key range from one
 *		server to another (kinesis_cluster, README "Scaling out").
 *
 * A reshard closes parent shards and opens children in the catalog, in the
 * caller's transaction.  Producers keep putting meanwhile with the old
 * layout, so the parents' ending sequence numbers cannot be "the counter
 * now": the reshard reserves the counter C = next + segment capacity for
 * the children (kg_stream_begin_reshard).  Until the reshard commits,
 * old-layout puts take counters below C (and would wait in the rare case
 * they used them all up); at commit the counter jumps to C and the shared
 * version moves in the same spinlock section, so no put routed with the
 * old layout gets a counter at or above C.  Hence a parent's ending
 * sequence number KG_SEQ(C - 1, parent) is above all its records and the
 * children's numbers, from KG_SEQ(C, child), are above it.  Shards created
 * and closed by the same transaction (update_shard_count's intermediate
 * steps) never receive records.
 *
 * close_shard closes a shard without children here: its range is served
 * elsewhere from then on (puts of keys in it fail on this server).
 * open_shards opens shards over ranges no open shard covers, numbered above
 * a given sequence number (the closed parent's ending number on the other
 * server), so that readers going from parent to children keep the order.
 *
 * Transitions are immediate.  A second reshard of a stream while one is
 * uncommitted gets ResourceInUseException (the stream is UPDATING for
 * everyone else until the first commits).  Several reshard calls in one
 * transaction are allowed.
 *
 * Locking: ExclusiveLock on the stream as a database object (conditional:
 * that is the UPDATING check), row locks on the kinesis.shards rows it
 * changes.  Producers and readers take none of these.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "common/kg_catalog.h"
#include "common/kg_compat.h"
#include "common/kg_errors.h"
#include "streams/reshard.h"
#include "streams/segments.h"
#include "streams/stream_cache.h"

/* The open shards as this transaction sees them. */
typedef struct KgOpenShard
{
	int32		shard_index;
	uint128		start;
	uint128		end;
	bool		created_here;	/* by this transaction */
} KgOpenShard;

typedef struct KgReshard
{
	KgStream   *s;
	int64		child_counter;	/* first counter of new shards */
	int32		next_index;
	int			nopen;
	KgOpenShard *open;			/* sorted by start */
} KgReshard;

/*
 * Take the stream's UPDATING lock (ExclusiveLock on the stream as a
 * database object, until the transaction ends), without waiting:
 * ResourceInUseException when another transaction reshards or changes it.
 */
void
kg_stream_lock_updating(KgStream *s)
{
	if (!ConditionalLockDatabaseObject(RelationRelationId, s->record_table, 1, ExclusiveLock))
		ereport(ERROR,
				(errcode(KG_RESOURCE_IN_USE),
				 errmsg("ResourceInUseException: stream \"%s\" is not ACTIVE, instead in state UPDATING", s->name),
				 errdetail("Another transaction is resharding or changing the stream."),
				 errhint("Retry after that transaction ends.")));
}

/*
 * Check privileges and mode, lock the stream, reserve the children's
 * counter (at least min_counter).
 */
static void
kg_reshard_begin(KgReshard *r, const char *stream_name, bool check_mode, int64 min_counter)
{
	KgStream   *s = kg_stream_get(stream_name, false);
	KgCatalogContext cc;
	int			n;

	if (!kg_stream_owned(s))
		ereport(ERROR,
				(errcode(KG_ACCESS_DENIED),
				 errmsg("AccessDeniedException: must be owner of stream \"%s\" to reshard it", s->name)));
	PreventCommandIfReadOnly("resharding a data stream");
	if (check_mode && strcmp(s->mode, "PROVISIONED") != 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: stream \"%s\" is in ON_DEMAND mode; its shards are managed automatically", s->name),
				 errhint("Switch it with kinesis.update_stream_mode(stream, 'PROVISIONED') to reshard by hand.")));
	kg_stream_lock_updating(s);

	r->s = s;
	r->child_counter = kg_stream_begin_reshard(s->state, s->segment_capacity, min_counter);

	/* the layout as of this transaction, including its own earlier reshards */
	kg_catalog_enter(&cc, false);
	kg_spi_exec("SELECT next_shard_index FROM kinesis.streams WHERE stream_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
				1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(s->stream_id)}, NULL, false);
	{
		bool		isnull;

		r->next_index = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	n = kg_spi_exec("SELECT shard_index, starting_hash_key::text, ending_hash_key::text, "
					"starting_sequence_number OPERATOR(pg_catalog.>=) $2 "
					"FROM kinesis.shards shards WHERE stream_id OPERATOR(pg_catalog.=) $1 "
					"AND ending_sequence_number IS NULL ORDER BY shards.starting_hash_key FOR NO KEY UPDATE",
					2, (Oid[]) {INT4OID, INT8OID},
					(Datum[]) {Int32GetDatum(s->stream_id), Int64GetDatum(KG_SEQ(r->child_counter, 0))},
					NULL, false);
	r->open = SPI_palloc(sizeof(KgOpenShard) * (n + 2));	/* outlives SPI */
	r->nopen = n;
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		r->open[i].shard_index = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		(void) kg_cstring_to_u128(SPI_getvalue(tup, desc, 2), &r->open[i].start);
		(void) kg_cstring_to_u128(SPI_getvalue(tup, desc, 3), &r->open[i].end);
		r->open[i].created_here = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	}
	kg_catalog_exit(&cc);

	/* the children's first segment exists before any put needs it */
	(void) kg_create_segment(s->stream_id, s->record_table, s->segment_capacity,
							 r->child_counter / s->segment_capacity, false, false);
	kg_stream_changed_at_commit(s->stream_id, false);
}

static int
kg_find_open(KgReshard *r, int32 shard_index)
{
	for (int i = 0; i < r->nopen; i++)
		if (r->open[i].shard_index == shard_index)
			return i;
	return -1;
}

/* Position of an open shard given by id; the Kinesis errors otherwise. */
static int
kg_require_open(KgReshard *r, const char *shard_id)
{
	int32		idx = kg_parse_shard_id(r->s->name, shard_id);
	int			pos = kg_find_open(r, idx);

	if (pos >= 0)
		return pos;
	if (idx >= 0 && idx < r->next_index &&
		(kg_stream_find_shard(r->s, idx) != NULL || r->s->nshards <= idx))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: shard %s in stream \"%s\" has already been merged or split, and thus is not eligible for merging or splitting",
						kg_shard_id_string(idx), r->s->name)));
	ereport(ERROR,
			(errcode(KG_RESOURCE_NOT_FOUND),
			 errmsg("ResourceNotFoundException: could not find shard %s in stream \"%s\"",
					kg_shard_id_string(idx), r->s->name)));
	return -1;					/* keep compiler quiet */
}

/* Close an open shard (position pos in r->open) in the catalog; returns its ending sequence number. */
static int64
kg_close_shard(KgReshard *r, int pos)
{
	KgOpenShard *o = &r->open[pos];
	int64		ending = o->created_here ? KG_SEQ(r->child_counter, o->shard_index)
		: KG_SEQ(r->child_counter - 1, o->shard_index);
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("UPDATE kinesis.shards SET ending_sequence_number = $3, closed_at = pg_catalog.clock_timestamp() "
				"WHERE stream_id OPERATOR(pg_catalog.=) $1 AND shard_index OPERATOR(pg_catalog.=) $2",
				3, (Oid[]) {INT4OID, INT4OID, INT8OID},
				(Datum[]) {Int32GetDatum(r->s->stream_id), Int32GetDatum(o->shard_index), Int64GetDatum(ending)},
				NULL, false);
	kg_catalog_exit(&cc);
	memmove(&r->open[pos], &r->open[pos + 1], sizeof(KgOpenShard) * (r->nopen - pos - 1));
	r->nopen--;
	return ending;
}

/* Open a new shard with the next index (parent, adjacent: -1 for none); returns its index. */
static int32
kg_open_shard(KgReshard *r, uint128 start, uint128 end, int32 parent, int32 adjacent)
{
	int32		idx = r->next_index;
	KgCatalogContext cc;
	int			pos;
	char		nulls[8] = "       ";

	if (idx > KG_MAX_SHARD_INDEX)
		ereport(ERROR,
				(errcode(KG_LIMIT_EXCEEDED),
				 errmsg("LimitExceededException: stream \"%s\" has used up its %d shard ids",
						r->s->name, KG_MAX_SHARD_INDEX + 1),
				 errhint("Create a new stream.")));
	if (parent < 0)
		nulls[2] = 'n';
	if (adjacent < 0)
		nulls[3] = 'n';
	kg_catalog_enter(&cc, false);
	kg_spi_exec("INSERT INTO kinesis.shards (stream_id, shard_index, parent_shard_index, "
				"adjacent_parent_shard_index, starting_hash_key, ending_hash_key, starting_sequence_number) "
				"VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric, $7)",
				7, (Oid[]) {INT4OID, INT4OID, INT4OID, INT4OID, TEXTOID, TEXTOID, INT8OID},
				(Datum[]) {Int32GetDatum(r->s->stream_id), Int32GetDatum(idx), Int32GetDatum(parent),
						   Int32GetDatum(adjacent), CStringGetTextDatum(kg_u128_to_cstring(start)),
						   CStringGetTextDatum(kg_u128_to_cstring(end)),
						   Int64GetDatum(KG_SEQ(r->child_counter, idx))},
				nulls, false);
	kg_spi_exec("UPDATE kinesis.streams SET next_shard_index = $2 WHERE stream_id OPERATOR(pg_catalog.=) $1",
				2, (Oid[]) {INT4OID, INT4OID},
				(Datum[]) {Int32GetDatum(r->s->stream_id), Int32GetDatum(idx + 1)}, NULL, false);
	kg_catalog_exit(&cc);
	r->next_index = idx + 1;

	for (pos = 0; pos < r->nopen && r->open[pos].start < start; pos++)
		;
	memmove(&r->open[pos + 1], &r->open[pos], sizeof(KgOpenShard) * (r->nopen - pos));
	r->open[pos].shard_index = idx;
	r->open[pos].start = start;
	r->open[pos].end = end;
	r->open[pos].created_here = true;
	r->nopen++;
	return idx;
}

/* Split open shard at position pos at hash key k (start + 1 < k < end). */
static void
kg_do_split(KgReshard *r, int pos, uint128 k)
{
	KgOpenShard parent = r->open[pos];

	r->open = repalloc(r->open, sizeof(KgOpenShard) * (r->nopen + 2));
	(void) kg_close_shard(r, pos);
	(void) kg_open_shard(r, parent.start, k - 1, parent.shard_index, -1);
	(void) kg_open_shard(r, k, parent.end, parent.shard_index, -1);
}

/* Merge the open shards at positions pos and pos + 1 (adjacent). */
static void
kg_do_merge(KgReshard *r, int pos)
{
	KgOpenShard a = r->open[pos];
	KgOpenShard b = r->open[pos + 1];

	(void) kg_close_shard(r, pos + 1);
	(void) kg_close_shard(r, pos);
	(void) kg_open_shard(r, a.start, b.end, a.shard_index, b.shard_index);
}

/* SQL-callable wrappers --------------------------------------------------- */

PG_FUNCTION_INFO_V1(kg_split_shard);

/* kinesis.split_shard(stream_name, shard_to_split, new_starting_hash_key) */
Datum
kg_split_shard(PG_FUNCTION_ARGS)
{
	KgReshard	r;
	int			pos;
	uint128		k = 0;
	bool		in_range;
	char	   *key_text;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name, shard to split and new starting hash key must not be null")));

	/*
	 * Kinesis checks the pattern 0|([1-9]\d{0,38}) first and the shard's
	 * range after: a key of at most 39 digits above 2^128-1 is outside the
	 * range, not malformed.
	 */
	key_text = kg_hash_key_digits(PG_GETARG_DATUM(2));
	if (key_text == NULL)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: new starting hash key must satisfy the pattern 0|([1-9]\\d{0,38})")));
	in_range = kg_cstring_to_u128(key_text, &k);
	kg_reshard_begin(&r, text_to_cstring(PG_GETARG_TEXT_PP(0)), true, 0);
	pos = kg_require_open(&r, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	if (!in_range || !(k > r.open[pos].start + 1 && k < r.open[pos].end))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: new starting hash key %s used in split_shard on shard %s in stream \"%s\" is not both greater than one plus the shard's starting hash key %s and less than the shard's ending hash key %s",
						key_text, kg_shard_id_string(r.open[pos].shard_index), r.s->name,
						kg_u128_to_cstring(r.open[pos].start), kg_u128_to_cstring(r.open[pos].end))));
	kg_check_limits_as_owner(r.s->name, 1, false);
	kg_do_split(&r, pos, k);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(kg_merge_shards);

/* kinesis.merge_shards(stream_name, shard_to_merge, adjacent_shard_to_merge) */
Datum
kg_merge_shards(PG_FUNCTION_ARGS)
{
	KgReshard	r;
	int			a,
				b;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name and both shards must not be null")));
	kg_reshard_begin(&r, text_to_cstring(PG_GETARG_TEXT_PP(0)), true, 0);
	a = kg_require_open(&r, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	b = kg_require_open(&r, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	if (b != a + 1 || r.open[a].end + 1 != r.open[b].start)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: shards %s and %s in stream \"%s\" are not an adjacent pair of shards eligible for merging",
						kg_shard_id_string(r.open[a].shard_index), kg_shard_id_string(r.open[b].shard_index), r.s->name),
				 errhint("The adjacent shard must start right after the shard to merge ends.")));
	kg_do_merge(&r, a);
	PG_RETURN_VOID();
}

/*
 * Reshape the open shards into n equal ranges (the initial layout's
 * formula) by splits and merges only, so every shard keeps at most two
 * parents: first split at every target boundary inside a shard, then merge
 * the pieces of each target range from left to right.
 */
static void
kg_reshard_uniform(KgReshard *r, int target)
{
	uint128		step = target > 1 ? kg_hash_step(target) : 0;

	for (int j = 1; j < target; j++)
	{
		uint128		b = (uint128) j * step;

		for (int pos = 0; pos < r->nopen; pos++)
		{
			KgOpenShard *o = &r->open[pos];

			if (b > o->start && b <= o->end)
			{
				/*
				 * Split even one key from an edge (which a user's split_shard
				 * may not): the one-key piece is merged away below.
				 */
				kg_do_split(r, pos, b);
				break;
			}
		}
	}
	for (int j = 0; j < target; j++)
	{
		uint128		lo = (uint128) j * step;
		uint128		hi = (j == target - 1) ? KG_HASH_MAX : (uint128) (j + 1) * step - 1;

		for (;;)
		{
			int			pos = -1;

			for (int i = 0; i + 1 < r->nopen; i++)
				if (r->open[i].start >= lo && r->open[i + 1].end <= hi)
				{
					pos = i;
					break;
				}
			if (pos < 0)
				break;
			kg_do_merge(r, pos);
		}
	}
}

PG_FUNCTION_INFO_V1(kg_update_shard_count);

/* kinesis.update_shard_count(stream_name, target_shard_count, scaling_type) */
Datum
kg_update_shard_count(PG_FUNCTION_ARGS)
{
	KgReshard	r;
	int			target;
	char	   *scaling;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name and target shard count must not be null")));
	target = PG_GETARG_INT32(1);
	scaling = PG_ARGISNULL(2) ? "UNIFORM_SCALING" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(scaling, "UNIFORM_SCALING") != 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: scaling type \"%s\" is not one of UNIFORM_SCALING", scaling)));
	if (target < 1 || target > 10000)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: target shard count must be between 1 and 10000"),
				 errdetail("The target given was %d.", target)));
	kg_reshard_begin(&r, text_to_cstring(PG_GETARG_TEXT_PP(0)), true, 0);
	for (int i = 0; i <= r.nopen; i++)
		if (i == r.nopen ? (r.nopen == 0 || r.open[i - 1].end != KG_HASH_MAX) :
			r.open[i].start != (i == 0 ? 0 : r.open[i - 1].end + 1))
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: the open shards of stream \"%s\" do not cover the hash key space on this server", r.s->name),
					 errdetail("Part of its hash key range was handed to another server (kinesis.close_shard)."),
					 errhint("Use split_shard and merge_shards.")));
	if (target > 2 * r.nopen)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: cannot update shard count beyond 2x the current shard count"),
				 errdetail("Stream \"%s\" has %d open shards; the target was %d.", r.s->name, r.nopen, target)));
	if (target < (r.nopen + 1) / 2)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: cannot update shard count below 50%% of the current shard count"),
				 errdetail("Stream \"%s\" has %d open shards; the target was %d.", r.s->name, r.nopen, target)));
	kg_check_limits_as_owner(r.s->name, target - r.nopen, false);
	kg_reshard_uniform(&r, target);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(kg_update_stream_mode);

/* kinesis.update_stream_mode(stream_name, stream_mode) */
Datum
kg_update_stream_mode(PG_FUNCTION_ARGS)
{
	KgReshard	r;
	char	   *mode;
	KgCatalogContext cc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name and stream mode must not be null")));
	mode = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strcmp(mode, "PROVISIONED") != 0 && strcmp(mode, "ON_DEMAND") != 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: stream mode \"%s\" is not one of PROVISIONED, ON_DEMAND", mode)));
	kg_reshard_begin(&r, text_to_cstring(PG_GETARG_TEXT_PP(0)), false, 0);
	kg_catalog_enter(&cc, false);
	kg_check_limits(r.s->name, 0, strcmp(mode, "ON_DEMAND") == 0 && strcmp(r.s->mode, "ON_DEMAND") != 0);

	/*
	 * AUTO is for ON_DEMAND streams only: refuse rather than silently switch
	 * to partition keys, which producers relying on AUTO may not send.  The
	 * row is locked (kg_reshard_begin), so the strategy read stays true.
	 */
	if (strcmp(mode, "PROVISIONED") == 0)
	{
		bool		isnull;

		kg_spi_exec("SELECT record_distribution_strategy OPERATOR(pg_catalog.=) 'AUTO' FROM kinesis.streams "
					"WHERE stream_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(r.s->stream_id)}, NULL, false);
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: stream \"%s\" uses the AUTO record distribution strategy, which only ON_DEMAND streams support",
							r.s->name),
					 errhint("Switch it first with kinesis.update_stream_record_distribution_strategy(stream_name, 'USER_PARTITION_KEY').")));
	}
	kg_spi_exec("UPDATE kinesis.streams SET stream_mode = $2 WHERE stream_id OPERATOR(pg_catalog.=) $1",
				2, (Oid[]) {INT4OID, TEXTOID},
				(Datum[]) {Int32GetDatum(r.s->stream_id), CStringGetTextDatum(mode)}, NULL, false);
	kg_catalog_exit(&cc);
	PG_RETURN_VOID();
}

/* For the on-demand scaler (worker): split or merge without the mode check. */
void
kg_reshard_split_half(const char *stream_name, int32 shard_index)
{
	KgReshard	r;
	int			pos;

	kg_reshard_begin(&r, stream_name, false, 0);
	pos = kg_find_open(&r, shard_index);
	if (pos < 0 || r.open[pos].end - r.open[pos].start < 4)
		return;
	kg_do_split(&r, pos, r.open[pos].start + (r.open[pos].end - r.open[pos].start) / 2 + 1);
}

void
kg_reshard_merge_pair(const char *stream_name, int32 left_index)
{
	KgReshard	r;
	int			pos;

	kg_reshard_begin(&r, stream_name, false, 0);
	pos = kg_find_open(&r, left_index);
	if (pos < 0 || pos + 1 >= r.nopen || r.open[pos].end + 1 != r.open[pos + 1].start)
		return;
	kg_do_merge(&r, pos);
}

PG_FUNCTION_INFO_V1(kg_close_shard_sql);

/*
 * kinesis.close_shard(stream_name, shard_to_close) -> ending sequence number:
 * close an open shard without opening children on this server (its range
 * goes to another server's kinesis.open_shards).  Owner only, PROVISIONED.
 */
Datum
kg_close_shard_sql(PG_FUNCTION_ARGS)
{
	KgReshard	r;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name and shard to close must not be null")));
	kg_reshard_begin(&r, text_to_cstring(PG_GETARG_TEXT_PP(0)), true, 0);
	PG_RETURN_INT64(kg_close_shard(&r, kg_require_open(&r, text_to_cstring(PG_GETARG_TEXT_PP(1)))));
}

/* The elements of a numeric[] argument as hash keys; ValidationException when not valid. */
static int
kg_hash_key_array(ArrayType *a, const char *what, uint128 **keys)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: %s must be a one-dimensional array", what)));
	deconstruct_array(a, NUMERICOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	*keys = palloc(sizeof(uint128) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		char	   *digits = nulls[i] ? NULL : kg_hash_key_digits(elems[i]);

		if (digits == NULL || !kg_cstring_to_u128(digits, &(*keys)[i]))
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("ValidationException: %s element %d is not a hash key in [0, 2^128 - 1]", what, i + 1)));
	}
	return n;
}

PG_FUNCTION_INFO_V1(kg_open_shards);

/*
 * kinesis.open_shards(stream_name, starting_hash_keys, ending_hash_keys,
 * after_sequence_number, retention_period) -> (shard_id,
 * starting_sequence_number): open one shard per range, over ranges no open
 * shard covers, numbered above after_sequence_number's counter.  Creates the
 * stream (PROVISIONED, with the retention given, owned by the caller, who
 * then needs CREATE on kinesis_records) when it does not exist here;
 * otherwise the caller must own it.
 */
Datum
kg_open_shards(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Interval	default_retention = {INT64CONST(24) * USECS_PER_HOUR, 0, 0};
	char	   *name;
	uint128    *starts;
	uint128    *ends;
	int			n;
	int64		min_counter = 0;
	KgReshard	r;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name and hash key ranges must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	n = kg_hash_key_array(PG_GETARG_ARRAYTYPE_P(1), "starting_hash_keys", &starts);
	if (n < 1 || n > 100 || kg_hash_key_array(PG_GETARG_ARRAYTYPE_P(2), "ending_hash_keys", &ends) != n)
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: open_shards takes 1 to 100 ranges, as many starting as ending hash keys")));
	if (!PG_ARGISNULL(3))
	{
		if (PG_GETARG_INT64(3) < 0 || KG_SEQ_COUNTER(PG_GETARG_INT64(3)) >= KG_MAX_COUNTER)
			ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
							errmsg("InvalidArgumentException: after_sequence_number %lld is not a sequence number",
								   (long long) PG_GETARG_INT64(3))));
		min_counter = KG_SEQ_COUNTER(PG_GETARG_INT64(3)) + 1;
	}
	if (kg_stream_get(name, true) == NULL)
	{
		kg_check_stream_name(name);
		kg_stream_create(name, "PROVISIONED", PG_ARGISNULL(4) ? &default_retention : PG_GETARG_INTERVAL_P(4), 0);
	}
	kg_reshard_begin(&r, name, true, min_counter);
	r.open = repalloc(r.open, sizeof(KgOpenShard) * (r.nopen + n + 2));

	/* each range well formed, overlapping no open shard and no other range */
	for (int i = 0; i < n; i++)
	{
		if (starts[i] > ends[i])
			ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
							errmsg("InvalidArgumentException: range %d starts after it ends", i + 1)));
		for (int j = 0; j < r.nopen; j++)
			if (starts[i] <= r.open[j].end && r.open[j].start <= ends[i])
				ereport(ERROR,
						(errcode(KG_INVALID_ARGUMENT),
						 errmsg("InvalidArgumentException: range %d overlaps open shard %s of stream \"%s\"",
								i + 1, kg_shard_id_string(r.open[j].shard_index), r.s->name),
						 errhint("Close that shard first (kinesis.close_shard) or open a range outside it.")));
		for (int j = 0; j < i; j++)
			if (starts[i] <= ends[j] && starts[j] <= ends[i])
				ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
								errmsg("InvalidArgumentException: ranges %d and %d overlap", j + 1, i + 1)));
	}

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < n; i++)
	{
		int32		idx = kg_open_shard(&r, starts[i], ends[i], -1, -1);
		Datum		values[2] = {CStringGetTextDatum(kg_shard_id_string(idx)),
		Int64GetDatum(KG_SEQ(r.child_counter, idx))};
		bool		nulls[2] = {false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
