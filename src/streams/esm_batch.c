/*-------------------------------------------------------------------------
 *
 * esm_batch.c
 *		One batch of an event source mapping runner (esm_runner.c): for one
 *		shard of the runner's slot, after the checkpoint the runner read
 *		from the slot's locked row, in the runner's transaction.
 *
 * The phases (one function each): check (the function still resolves and
 * the owner still has its rights), read (the slot's records after the
 * checkpoint, waiting up to maximum_batching_window for a full batch),
 * then call and checkpoint (kg_esm_deliver).  The function is called as
 * the mapping's owner inside a subtransaction under a security-restricted
 * context and a statement timeout (kinesis_glue.mapping_timeout), and the
 * checkpoint moves in the same transaction: the call and the checkpoint
 * commit together, so work the function does in this database happens
 * once even across crashes.  The function may return the sequence number
 * of the first record that failed; the batch then resumes there.  A
 * failing batch is retried (with backoff) up to maximum_retry_attempts,
 * halved first when bisect_batch_on_function_error is on; records older
 * than maximum_record_age and batches out of retries go to the failure
 * destination with the error, and processing moves on.
 *
 * Rights are checked at use: before each batch, the owner must still have
 * SELECT on the stream's records and EXECUTE on the function, or the slot
 * stops with AccessDeniedException in the mapping's status until they are
 * granted.
 *
 * Locking: the caller holds the slot's checkpoint row (FOR UPDATE) until
 * its transaction commits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/typcache.h"

#include "common/kg_catalog.h"
#include "common/kg_guc.h"
#include "common/kg_hashkey.h"
#include "streams/esm.h"
#include "streams/esm_batch.h"
#include "streams/read.h"
#include "streams/stream_cache.h"
#include "worker/kg_runner.h"

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
KgBatchOutcome
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
