/*-------------------------------------------------------------------------
 *
 * esm_runner.c
 *		Event source mapping runners: one dynamic background worker per
 *		enabled mapping and parallelization slot, started and stopped by the
 *		database worker's supervisor task (kg_esm_supervise) through the
 *		shared runner registry; a runner attaches to its registry entry
 *		first and refuses to run when another runner holds its slot.
 *
 * A runner serves one slot: the records whose partition key hashes to it,
 * so records of one key stay in order while the slots of a shard run at
 * once.  For each shard whose parents are finished it reads a batch after
 * the slot's checkpoint (waiting up to maximum_batching_window for a full
 * batch), calls the function as the mapping's owner inside a
 * subtransaction under a security-restricted context and a statement
 * timeout (kinesis_glue.mapping_timeout), and moves the checkpoint in the
 * same transaction: the call and the checkpoint commit together, so work
 * the function does in this database happens once even across crashes.
 * The function may return the sequence number of the first record that
 * failed; the batch then resumes there.  A failing batch is retried (with
 * backoff) up to maximum_retry_attempts, halved first when
 * bisect_batch_on_function_error is on; records older than
 * maximum_record_age and batches out of retries go to the failure
 * destination with the error, and processing moves on.  A slow or failing
 * function only holds up its own mapping; one that ignores the cancel at
 * its timeout is terminated by the supervisor after kinesis_glue.runner_grace.
 *
 * Each batch is claimed by locking the slot's checkpoint row (FOR UPDATE)
 * and reading the position from that locked row, so a batch is applied once
 * even if two runners of one slot ever met.  Rights are checked at use:
 * before each batch, the owner must still have SELECT on the stream's
 * records and EXECUTE on the function, or the slot stops with
 * AccessDeniedException in the mapping's status until they are granted.
 *
 * The runner's phases (one function each): setup (attach to its registry
 * entry), and per round load (the mapping), list (the slot's shards), then
 * per shard claim and process (check rights, read, call the function,
 * move the checkpoint: kg_esm_batch), and sleep.  It leaves only between
 * transactions.
 *
 * Locking: the checkpoint row is locked from the claim to the commit of
 * the batch.  The runner holds no lock or snapshot while it sleeps; it waits
 * on the stream's condition variable, which producers broadcast at commit,
 * with the stream's shared entry pinned (kg_stream_prepare_to_wait) from
 * before the round's reads to the end of the sleep; it keeps no other
 * pointer into shared memory across transactions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "utils/acl.h"
#include "utils/regproc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/typcache.h"

#include "common/kg_catalog.h"
#include "common/kg_guc.h"
#include "common/kg_hashkey.h"
#include "streams/esm.h"
#include "streams/read.h"
#include "streams/stream_cache.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"


static MemoryContext RunnerLoopContext = NULL;	/* reset every round */

/* A mapping's settings, as the runner read them. */
typedef struct KgMapping
{
	int64		id;
	int32		stream_id;
	Oid			function;		/* InvalidOid: function_name no longer resolves */
	char	   *function_name;	/* the catalog's qualified signature */
	Oid			owner;
	int			batch_size;
	int64		window_ms;
	int			parallel;
	int			retries;
	int64		max_age_us;		/* 0: no limit */
	bool		bisect;
	char	   *destination;	/* NULL: none */
	bool		enabled;
	int32		generation;
} KgMapping;

/* ------------------------------------------------------------------------
 * Runner
 * ------------------------------------------------------------------------ */

/* Read the mapping's settings; false when it is gone, disabled or changed. */
static bool
kg_load_mapping(int64 id, int32 generation, KgMapping *m)
{
	KgCatalogContext cc;
	int			n;
	bool		ok = false;

	kg_catalog_enter(&cc, false);
	n = kg_spi_exec("SELECT stream_id, pg_catalog.to_regprocedure(function_name)::oid, owner::oid, batch_size, "
					"(extract(epoch FROM maximum_batching_window) OPERATOR(pg_catalog.*) 1000)::int8, "
					"parallelization_factor, maximum_retry_attempts, "
					"coalesce((extract(epoch FROM maximum_record_age) OPERATOR(pg_catalog.*) 1000000)::int8, 0), "
					"bisect_batch_on_function_error, on_failure_destination, enabled, generation, function_name "
					"FROM kinesis.event_source_mappings WHERE mapping_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL, true);
	if (n == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *dest;

		m->id = id;
		m->stream_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		m->function = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		if (isnull)
			m->function = InvalidOid;
		m->function_name = MemoryContextStrdup(RunnerLoopContext, SPI_getvalue(tup, desc, 13));
		m->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		m->batch_size = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		m->window_ms = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		m->parallel = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
		m->retries = DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull));
		m->max_age_us = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
		m->bisect = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
		dest = SPI_getvalue(tup, desc, 10);
		m->destination = dest ? MemoryContextStrdup(RunnerLoopContext, dest) : NULL;
		m->enabled = DatumGetBool(SPI_getbinval(tup, desc, 11, &isnull));
		m->generation = DatumGetInt32(SPI_getbinval(tup, desc, 12, &isnull));
		ok = m->enabled && m->generation == generation;
	}
	kg_catalog_exit(&cc);
	return ok;
}

/* A batch being built from one shard and slot. */
typedef struct KgBatch
{
	int			slot;
	int			parallel;
	int			limit;
	int64		max_age_us;
	TimestampTz now;
	TupleDesc	desc;
	Datum		shard_id;
	Datum	   *elems;
	int			n;
	int64		first_seq;
	int64		last_seq;
	TimestampTz first_arrival;
	int			n_old;			/* leading records past the maximum age */
	int64		old_last_seq;
	bool		full;
} KgBatch;

static bool
kg_batch_sink(void *arg, int64 seq, TimestampTz arrival, Datum pk, Datum data)
{
	KgBatch    *b = (KgBatch *) arg;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	if (b->parallel > 1)
	{
		text	   *key = DatumGetTextPP(pk);

		if ((int) (kg_partition_key_hash(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)) % (uint128) b->parallel) != b->slot)
			return true;		/* another slot's record */
	}
	if (b->max_age_us > 0 && b->n == 0 && b->now - arrival > b->max_age_us)
	{
		/* too old to process: reported to the failure destination */
		b->n_old++;
		b->old_last_seq = seq;
		if (b->first_seq < 0)
			b->first_seq = seq;
		return true;
	}
	if (b->n_old > 0)
	{
		b->full = true;			/* report the old ones first */
		return false;
	}
	if (b->n >= b->limit)
	{
		b->full = true;
		return false;
	}
	values[0] = b->shard_id;
	values[1] = Int64GetDatum(seq);
	values[2] = TimestampTzGetDatum(arrival);
	values[3] = pk;
	values[4] = data;
	if (b->n == 0)
	{
		b->first_seq = seq;
		b->first_arrival = arrival;
	}
	b->elems[b->n++] = HeapTupleGetDatum(heap_form_tuple(b->desc, values, nulls));
	b->last_seq = seq;
	return true;
}

/*
 * Send a failed batch's details to the mapping's failure destination, as
 * the owner (security-restricted, in a subtransaction, under
 * kinesis_glue.mapping_timeout); raises when that fails.
 */
static void
kg_send_failure(KgMapping *m, KgShard *sh, int64 first_seq, int64 last_seq, int count,
				int attempts, const char *reason, const char *error)
{
	char	   *details;
	const char *dest = m->destination;
	KgOwnerCall call = {0};

	ereport(LOG,
			(errmsg("kinesis_glue event source mapping %lld gave up on %d records of shard %s (%s)",
					(long long) m->id, count, kg_shard_id_string(sh->shard_index), reason),
			 error ? errdetail("%s", error) : 0));
	if (m->destination == NULL)
		return;

	details = psprintf("SELECT pg_catalog.jsonb_build_object('mapping_id', $1::int8, 'function', $2::pg_catalog.regproc::text, "
					   "'shard_id', $3::text, 'slot', $4::int4, 'start_sequence_number', $5::int8, "
					   "'end_sequence_number', $6::int8, 'batch_size', $7::int4, 'attempts', $8::int4, "
					   "'reason', $9::text, 'error', $10::text, 'failed_at', pg_catalog.clock_timestamp())");
	if (strncmp(dest, "stream:", 7) == 0)
		call.sql = psprintf("SELECT pg_catalog.count(*) FROM kinesis.put_record(%s, %s, "
							"pg_catalog.convert_to((%s)::text, 'UTF8'))",
							quote_literal_cstr(dest + 7),
							quote_literal_cstr(psprintf("mapping-%lld", (long long) m->id)), details);
	else
		call.sql = psprintf("INSERT INTO %s SELECT (pg_catalog.jsonb_populate_record(NULL::%s, "
							"d OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('details', d))).* "
							"FROM (%s) AS x(d)", dest + 6, dest + 6, details);
	call.owner = m->owner;
	call.nargs = 10;
	call.argtypes = (Oid[]) {INT8OID, OIDOID, TEXTOID, INT4OID, INT8OID, INT8OID, INT4OID, INT4OID, TEXTOID, TEXTOID};
	call.args = (Datum[]) {Int64GetDatum(m->id), ObjectIdGetDatum(m->function),
						   CStringGetTextDatum(kg_shard_id_string(sh->shard_index)), Int32GetDatum(0),
						   Int64GetDatum(first_seq), Int64GetDatum(last_seq), Int32GetDatum(count),
						   Int32GetDatum(attempts), CStringGetTextDatum(reason),
						   error ? CStringGetTextDatum(error) : (Datum) 0};
	call.nulls = error ? "          " : "         n";
	call.timeout_ms = kg_mapping_timeout_ms;
	/* the batch moves on only once its failure is recorded */
	if (!kg_run_as_owner(&call))
		ereport(ERROR,
				(errcode(call.sqlerrcode),
				 errmsg("event source mapping %lld could not send a failed batch to %s: %s",
						(long long) m->id, dest, call.error)));
}

/* on_result of the mapping call: the first failed sequence number, if returned */
static void
kg_call_result(void *arg)
{
	int64	   *failed_seq = (int64 *) arg;

	if (SPI_processed == 1 && SPI_tuptable->tupdesc->natts == 1 &&
		TupleDescAttr(SPI_tuptable->tupdesc, 0)->atttypid == INT8OID)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			*failed_seq = DatumGetInt64(d);
	}
}

/*
 * Call the mapping's function with a batch, as its owner, in a
 * subtransaction, under kinesis_glue.mapping_timeout.  Returns true on
 * success, with *failed_seq the sequence number the function reported as
 * the first failure (or -1); false with *error set when the call failed
 * (its effects are rolled back).
 */
static bool
kg_call_function(KgMapping *m, Datum batch, int64 *failed_seq, char **error)
{
	KgOwnerCall call = {0};

	*failed_seq = -1;
	call.owner = m->owner;
	call.sql = psprintf("SELECT %s($1)",
						quote_qualified_identifier(get_namespace_name(get_func_namespace(m->function)),
												   get_func_name(m->function)));
	call.nargs = 1;
	call.argtypes = (Oid[]) {kg_record_array_type()};
	call.args = &batch;
	call.timeout_ms = kg_mapping_timeout_ms;
	call.on_result = kg_call_result;
	call.arg = failed_seq;
	if (kg_run_as_owner(&call))
		return true;
	*error = call.error;
	return false;
}

/* Store a slot's checkpoint and attempt count (in the current transaction). */
static void
kg_esm_store(KgMapping *m, int32 shard_index, int slot, int64 checkpoint, bool finished, int attempts,
			 const char *result, const char *error)
{
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("UPDATE kinesis.event_source_mapping_shards SET checkpoint = $4, finished = $5, attempts = $6 "
				"WHERE mapping_id OPERATOR(pg_catalog.=) $1 AND shard_index OPERATOR(pg_catalog.=) $2 "
				"AND slot OPERATOR(pg_catalog.=) $3",
				6, (Oid[]) {INT8OID, INT4OID, INT4OID, INT8OID, BOOLOID, INT4OID},
				(Datum[]) {Int64GetDatum(m->id), Int32GetDatum(shard_index), Int32GetDatum(slot),
						   Int64GetDatum(checkpoint), BoolGetDatum(finished), Int32GetDatum(attempts)},
				NULL, false);
	if (result)
		kg_spi_exec("UPDATE kinesis.event_source_mappings SET last_processing_result = $2, "
					"last_processed_at = pg_catalog.clock_timestamp(), "
					"last_error = coalesce($3, last_error), "
					"last_error_at = CASE WHEN $3 IS NULL THEN last_error_at ELSE pg_catalog.clock_timestamp() END "
					"WHERE mapping_id OPERATOR(pg_catalog.=) $1",
					3, (Oid[]) {INT8OID, TEXTOID, TEXTOID},
					(Datum[]) {Int64GetDatum(m->id), CStringGetTextDatum(result),
							   error ? CStringGetTextDatum(error) : (Datum) 0},
					error ? "  " : "  n", false);
	kg_catalog_exit(&cc);
}

typedef enum KgBatchOutcome
{
	KG_BATCH_IDLE,				/* nothing to do now */
	KG_BATCH_DEFERRED,			/* waiting for the batching window */
	KG_BATCH_DONE,				/* progress made */
	KG_BATCH_RETRY				/* failed; retry after a pause */
} KgBatchOutcome;

/* Runner state of one shard and slot, kept across batches. */
typedef struct KgSlotState
{
	int32		shard_index;
	int			limit;			/* current batch limit (bisect halves it) */
	TimestampTz retry_after;
} KgSlotState;

/*
 * Rights at use: may the mapping's owner, now, read the stream's records
 * and execute the function?  False with *error (AccessDeniedException ...)
 * when not.
 */
static bool
kg_mapping_rights(KgMapping *m, KgStream *s, char **error)
{
	const char *role = GetUserNameFromId(m->owner, true);
	Oid			nsp = get_func_namespace(m->function);

	if (role == NULL)
		role = "?";
	if (pg_class_aclcheck(s->record_table, m->owner, ACL_SELECT) != ACLCHECK_OK)
		*error = psprintf("AccessDeniedException: role \"%s\" may no longer read stream \"%s\" "
						  "(SELECT on its records was revoked)", role, s->name);
	else if (!OidIsValid(nsp) || pg_namespace_aclcheck(nsp, m->owner, ACL_USAGE) != ACLCHECK_OK ||
			 pg_proc_aclcheck(m->function, m->owner, ACL_EXECUTE) != ACLCHECK_OK)
		*error = psprintf("AccessDeniedException: role \"%s\" may no longer execute function %s",
						  role, format_procedure(m->function));
	else
		return true;
	return false;
}

/* Retry a failed batch after a pause that doubles with each attempt (at most 30 s). */
static KgBatchOutcome
kg_esm_retry_later(KgSlotState *ss, int attempts)
{
	ss->retry_after = GetCurrentTimestamp() + Min(100 * 1000 << Min(attempts, 8), 30 * USECS_PER_SEC);
	return KG_BATCH_RETRY;
}

/*
 * Phase "check" of a batch: may the function be called at all?  When it no
 * longer resolves, or its owner lost a right (checked at use), the problem
 * goes into the mapping's status, the slot's position stays, and the slot
 * retries in 5 s; returns true then.  Nothing is read.
 */
static bool
kg_esm_blocked(KgMapping *m, KgStream *s, KgShard *sh, int slot, int64 checkpoint, int attempts,
			   KgSlotState *ss)
{
	char	   *error;

	if (!OidIsValid(m->function))
		/* dropped (or renamed) since the mapping was made */
		kg_esm_store(m, sh->shard_index, slot, checkpoint, false, attempts,
					 "PROBLEM: Function not found",
					 psprintf("ResourceNotFoundException: function %s of event source mapping %lld does not exist",
							  m->function_name, (long long) m->id));
	else if (!kg_mapping_rights(m, s, &error))
		/* stopped until the right is granted again */
		kg_esm_store(m, sh->shard_index, slot, checkpoint, false, attempts,
					 "PROBLEM: AccessDeniedException", error);
	else
		return false;
	ss->retry_after = GetCurrentTimestamp() + 5 * USECS_PER_SEC;
	return true;
}

/*
 * Phase "read" of a batch: the records of this slot after checkpoint, at
 * most the slot's current limit, into *b (records past the maximum age
 * counted apart, first); *res tells where the scan stopped.
 */
static void
kg_esm_read_batch(KgMapping *m, KgStream *s, KgShard *sh, int slot, int64 checkpoint,
				  KgSlotState *ss, KgBatch *b, KgReadResult *res)
{
	memset(b, 0, sizeof(*b));
	b->slot = slot;
	b->parallel = m->parallel;
	b->limit = ss->limit;
	b->max_age_us = m->max_age_us;
	b->now = GetCurrentTimestamp();
	b->desc = lookup_rowtype_tupdesc_copy(get_element_type(kg_record_array_type()), -1);
	b->shard_id = CStringGetTextDatum(kg_shard_id_string(sh->shard_index));
	b->elems = palloc(sizeof(Datum) * Max(b->limit, 1));
	b->first_seq = -1;
	kg_read_shard_range(s, sh, checkpoint, 10000, 64 * 1024 * 1024, kg_batch_sink, b, res);
}

/*
 * Phases "call" and "checkpoint" of a batch: call the function with the
 * records of *b, then move the checkpoint (in the caller's transaction, so
 * both commit together) according to the outcome: past the batch on
 * success; to the first failed record on a partial failure; unchanged with
 * the batch halved (bisect) or a retry after a pause on an error; past the
 * batch, sent to the failure destination, once the retries are used up.
 */
static KgBatchOutcome
kg_esm_deliver(KgMapping *m, KgShard *sh, int slot, int64 checkpoint, int attempts,
			   KgSlotState *ss, KgBatch *b)
{
	Oid			elemtype = get_element_type(kg_record_array_type());
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum		arr;
	int64		failed_seq;
	char	   *error;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	arr = PointerGetDatum(construct_array(b->elems, b->n, elemtype, typlen, typbyval, typalign));
	if (kg_call_function(m, arr, &failed_seq, &error))
	{
		if (failed_seq >= b->first_seq && failed_seq <= b->last_seq)
		{
			/* partial success: resume at the first failed record */
			kg_esm_store(m, sh->shard_index, slot, failed_seq - 1, false, attempts + 1,
						 "partial batch failure reported", NULL);
			return kg_esm_retry_later(ss, attempts);
		}
		ss->limit = m->batch_size;
		kg_esm_store(m, sh->shard_index, slot, b->last_seq, false, 0, "OK", NULL);
		return KG_BATCH_DONE;
	}

	/* the call failed and its effects are gone */
	if (m->bisect && b->n > 1)
	{
		ss->limit = Max(1, b->n / 2);
		kg_esm_store(m, sh->shard_index, slot, checkpoint, false, attempts, "batch bisected after function error", error);
		return KG_BATCH_DONE;
	}
	attempts++;
	if (m->retries >= 0 && attempts > m->retries)
	{
		kg_send_failure(m, sh, b->first_seq, b->last_seq, b->n, attempts, "retries exhausted", error);
		ss->limit = m->batch_size;
		kg_esm_store(m, sh->shard_index, slot, b->last_seq, false, 0, "batch sent to failure destination", error);
		return KG_BATCH_DONE;
	}
	kg_esm_store(m, sh->shard_index, slot, checkpoint, false, attempts, "function error, retrying", error);
	return kg_esm_retry_later(ss, attempts);
}

/*
 * One batch of one shard for this runner's slot, in the current
 * transaction, after the checkpoint the caller read from the slot's locked
 * row: check, read, then skip records past their age, move over a scan
 * with nothing of ours, wait for the batching window, or deliver.
 */
static KgBatchOutcome
kg_esm_batch(KgMapping *m, KgStream *s, KgShard *sh, int slot, int64 checkpoint, int attempts,
			 KgSlotState *ss, int64 *defer_ms)
{
	KgBatch		b;
	KgReadResult res;

	if (kg_esm_blocked(m, s, sh, slot, checkpoint, attempts, ss))
		return KG_BATCH_RETRY;
	kg_esm_read_batch(m, s, sh, slot, checkpoint, ss, &b, &res);
	if (b.n_old > 0)
	{
		kg_send_failure(m, sh, b.first_seq, b.old_last_seq, b.n_old, 0, "record age exceeded", NULL);
		kg_esm_store(m, sh->shard_index, slot, b.old_last_seq, false, 0, "records past maximum age skipped", NULL);
		return KG_BATCH_DONE;
	}
	if (b.n == 0)
	{
		/* nothing of ours: move over what was scanned */
		if (!res.more && (res.next_position != checkpoint || res.shard_end))
		{
			kg_esm_store(m, sh->shard_index, slot, res.next_position, res.shard_end, 0, NULL, NULL);
			return res.shard_end ? KG_BATCH_DONE : KG_BATCH_IDLE;
		}
		return KG_BATCH_IDLE;
	}
	if (!b.full && b.n < m->batch_size && m->window_ms > 0 && !sh->closed)
	{
		int64		age_ms = (b.now - b.first_arrival) / 1000;

		if (age_ms < m->window_ms)
		{
			*defer_ms = m->window_ms - age_ms;
			return KG_BATCH_DEFERRED;
		}
	}
	return kg_esm_deliver(m, sh, slot, checkpoint, attempts, ss, &b);
}

/*
 * Lock the checkpoint row of (shard, slot) for the rest of the transaction
 * and read the position and attempt count from it.  False when the row is
 * gone or the slot of that shard is finished.
 */
static bool
kg_claim_slot(KgMapping *m, int32 shard_index, int slot, int64 *checkpoint, int *attempts)
{
	KgCatalogContext cc;
	bool		ok = false;

	kg_catalog_enter(&cc, false);
	if (kg_spi_exec("SELECT finished, checkpoint, attempts FROM kinesis.event_source_mapping_shards "
					"WHERE mapping_id OPERATOR(pg_catalog.=) $1 AND shard_index OPERATOR(pg_catalog.=) $2 "
					"AND slot OPERATOR(pg_catalog.=) $3 FOR UPDATE",
					3, (Oid[]) {INT8OID, INT4OID, INT4OID},
					(Datum[]) {Int64GetDatum(m->id), Int32GetDatum(shard_index), Int32GetDatum(slot)},
					NULL, false) == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		ok = !DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull));
		*checkpoint = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		*attempts = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
	}
	kg_catalog_exit(&cc);
	return ok;
}

/* This runner: what it serves and its state across rounds. */
typedef struct KgEsmRunner
{
	int64		mapping_id;
	int32		slot;
	int32		generation;
	KgSlotState *states;		/* per shard, in TopMemoryContext */
	int			nstates;
	MemoryContext loop_cxt;		/* reset every round */
} KgEsmRunner;

/* One checkpoint row of this runner's slot, as listed at a round's start. */
typedef struct KgShardRow
{
	int32		shard_index;
	int64		checkpoint;
	int			attempts;
	bool		all_finished;	/* the shard is finished in every slot */
} KgShardRow;

/* The state of a shard (created at the mapping's batch size). */
static KgSlotState *
kg_slot_state(KgEsmRunner *r, int32 shard_index, int batch_size)
{
	for (int i = 0; i < r->nstates; i++)
		if (r->states[i].shard_index == shard_index)
			return &r->states[i];
	r->states = repalloc(r->states, sizeof(KgSlotState) * (r->nstates + 1));
	r->states[r->nstates].shard_index = shard_index;
	r->states[r->nstates].limit = batch_size;
	r->states[r->nstates].retry_after = 0;
	return &r->states[r->nstates++];
}

/* Start a transaction of the runner, with a snapshot. */
static void
kg_esm_xact_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

/* Commit the runner's transaction; back in the round's memory context. */
static void
kg_esm_xact_end(KgEsmRunner *r)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(r->loop_cxt);
}

/*
 * Phase "setup": attach to the registry entry of this launch (or exit at
 * once: at most one runner per mapping slot) and set up the runner's state.
 */
static void
kg_esm_setup(KgEsmRunner *r)
{
	KgRunnerInfo info;

	kg_runner_start(&info);
	r->mapping_id = info.id;
	r->slot = info.part;
	r->generation = info.generation;
	r->states = MemoryContextAlloc(TopMemoryContext, sizeof(KgSlotState));
	r->nstates = 0;
	r->loop_cxt = AllocSetContextCreate(TopMemoryContext, "kinesis_glue mapping runner", ALLOCSET_DEFAULT_SIZES);
	RunnerLoopContext = r->loop_cxt;
}

/*
 * Phase "load" of a round, in a transaction of its own: read the mapping
 * into *m.  False (the transaction ended) when the mapping is gone,
 * disabled or changed, or its stream is gone: the runner then leaves.
 */
static bool
kg_esm_load(KgEsmRunner *r, KgMapping *m)
{
	bool		ok;

	kg_esm_xact_begin("kinesis_glue: event source mapping");
	ok = kg_load_mapping(r->mapping_id, r->generation, m) &&
		kg_stream_get_by_id(m->stream_id, true) != NULL;
	kg_esm_xact_end(r);
	return ok;
}

/*
 * Phase "list" of a round, in a transaction of its own: make the missing
 * checkpoint rows (shards made by resharding start at their beginning) and
 * list this slot's rows, by shard, into *rows (the round's memory context).
 * Returns how many; -1 when the stream was deleted.
 */
static int
kg_esm_list_shards(KgEsmRunner *r, KgMapping *m, KgShardRow **rows)
{
	KgCatalogContext cc;
	int			n = -1;

	kg_esm_xact_begin("kinesis_glue: event source mapping");
	if (kg_stream_get_by_id(m->stream_id, true) != NULL)
	{
		kg_catalog_enter(&cc, false);
		kg_spi_exec("INSERT INTO kinesis.event_source_mapping_shards (mapping_id, shard_index, slot, checkpoint) "
					"SELECT $1, sh.shard_index, g, sh.starting_sequence_number OPERATOR(pg_catalog.-) 1 "
					"FROM kinesis.shards sh, pg_catalog.generate_series(0, $3 OPERATOR(pg_catalog.-) 1) g "
					"WHERE sh.stream_id OPERATOR(pg_catalog.=) $2 ON CONFLICT DO NOTHING",
					3, (Oid[]) {INT8OID, INT4OID, INT4OID},
					(Datum[]) {Int64GetDatum(m->id), Int32GetDatum(m->stream_id), Int32GetDatum(m->parallel)},
					NULL, false);
		n = kg_spi_exec("SELECT shard_index, checkpoint, attempts, "
						"(SELECT pg_catalog.bool_and(finished) FROM kinesis.event_source_mapping_shards p "
						" WHERE p.mapping_id OPERATOR(pg_catalog.=) e.mapping_id "
						" AND p.shard_index OPERATOR(pg_catalog.=) e.shard_index) "
						"FROM kinesis.event_source_mapping_shards e "
						"WHERE mapping_id OPERATOR(pg_catalog.=) $1 AND slot OPERATOR(pg_catalog.=) $2 "
						"ORDER BY shard_index",
						2, (Oid[]) {INT8OID, INT4OID}, (Datum[]) {Int64GetDatum(m->id), Int32GetDatum(r->slot)},
						NULL, false);
		/* the rows outlive this transaction */
		*rows = MemoryContextAlloc(r->loop_cxt, sizeof(KgShardRow) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;

			(*rows)[i].shard_index = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
			(*rows)[i].checkpoint = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			(*rows)[i].attempts = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
			(*rows)[i].all_finished = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		}
		kg_catalog_exit(&cc);
	}
	kg_esm_xact_end(r);
	return n;
}

/*
 * May shard sh be read now?  Parents first: every parent still listed must
 * be finished in all slots.
 */
static bool
kg_esm_parents_done(KgStream *s, KgShard *sh, KgShardRow *rows, int nrows)
{
	for (int i = 0; i < nrows; i++)
		if ((rows[i].shard_index == sh->parent_index || rows[i].shard_index == sh->adjacent_parent_index) &&
			kg_stream_find_shard(s, rows[i].shard_index) != NULL && !rows[i].all_finished)
			return false;
	return true;
}

/*
 * Phase "claim and process" of one shard, in a transaction of its own:
 * unless the shard is gone, waits for a parent, or waits out a retry, lock
 * the slot's checkpoint row, take the position and attempts from the
 * locked row, read with a snapshot taken after the lock, and run one batch
 * (kg_esm_batch: call the function, move the checkpoint), which commits
 * with the transaction.  *sleep_ms is lowered to when this shard wants to
 * be looked at again.
 */
static KgBatchOutcome
kg_esm_shard(KgEsmRunner *r, KgMapping *m, KgShardRow *rows, int nrows, int i, int64 *sleep_ms)
{
	KgStream   *s;
	KgShard    *sh;
	KgSlotState *ss;
	int64		checkpoint;
	int			attempts;
	int64		defer_ms = 0;
	KgBatchOutcome outcome = KG_BATCH_IDLE;

	kg_esm_xact_begin("kinesis_glue: event source mapping");
	s = kg_stream_get_by_id(m->stream_id, true);
	sh = s ? kg_stream_find_shard(s, rows[i].shard_index) : NULL;
	ss = kg_slot_state(r, rows[i].shard_index, m->batch_size);
	if (sh == NULL || !kg_esm_parents_done(s, sh, rows, nrows) || GetCurrentTimestamp() < ss->retry_after)
		outcome = ss->retry_after > 0 ? KG_BATCH_RETRY : KG_BATCH_IDLE;
	else if (kg_claim_slot(m, rows[i].shard_index, r->slot, &checkpoint, &attempts))
	{
		PopActiveSnapshot();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "kinesis_glue: event source mapping batch");
		outcome = kg_esm_batch(m, s, sh, r->slot, checkpoint, attempts, ss, &defer_ms);
	}
	kg_esm_xact_end(r);
	if (outcome == KG_BATCH_DEFERRED)
		*sleep_ms = Min(*sleep_ms, Max(defer_ms, 1));
	else if (outcome == KG_BATCH_RETRY)
		*sleep_ms = Min(*sleep_ms, Max(1, (ss->retry_after - GetCurrentTimestamp()) / 1000));
	return outcome;
}

/*
 * Runner entry point: bgw_extra holds its KgRunnerInfo (mapping id, slot,
 * generation).  Each round: load the mapping, arm the wakeup, list the
 * slot's shards, process each, and sleep on the stream's condition
 * variable unless a batch made progress.  Exits, never inside a
 * transaction, when the mapping is gone, disabled or changed, or its stream
 * is deleted (the supervisor starts a new runner when one is wanted).
 */
void
kg_esm_runner_main(Datum main_arg)
{
	KgEsmRunner r;

	kg_esm_setup(&r);
	for (;;)
	{
		KgMapping	m;
		KgShardRow *rows = NULL;
		int			nrows;
		bool		progress = false;
		int64		sleep_ms = kg_worker_naptime_ms;
		ConditionVariable *cv;

		kg_loop_interrupts();
		MemoryContextReset(r.loop_cxt);
		MemoryContextSwitchTo(r.loop_cxt);
		if (!kg_esm_load(&r, &m))
			proc_exit(0);

		/*
		 * Arm the wakeup before looking, so a commit in between is not lost.
		 * The stream's shared entry stays pinned until kg_stream_end_wait
		 * (a deletion broadcasts, ending the sleep, and frees the entry
		 * only after the pin is gone); nothing else of the shared hash is
		 * kept across transactions.
		 */
		cv = kg_stream_prepare_to_wait(m.stream_id);
		if (cv == NULL)
			proc_exit(0);		/* the stream is being deleted */
		nrows = kg_esm_list_shards(&r, &m, &rows);
		if (nrows < 0)
			proc_exit(0);		/* the stream was deleted */
		for (int i = 0; i < nrows; i++)
		{
			if (kg_esm_shard(&r, &m, rows, nrows, i, &sleep_ms) == KG_BATCH_DONE)
				progress = true;
			CHECK_FOR_INTERRUPTS();
		}
		pgstat_report_activity(STATE_IDLE, NULL);
		if (!progress)
			(void) ConditionVariableTimedSleep(cv, sleep_ms, PG_WAIT_EXTENSION);
		kg_stream_end_wait();
	}
}
