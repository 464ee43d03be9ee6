/*-------------------------------------------------------------------------
 *
 * consume_reader.c
 *		A consume of every new record of a named consumer, in steps: Glue's
 *		bookmarked reads (glue.bookmark_records) hand its records to their
 *		statement one by one (a KinesisRecordScan) or store them all
 *		(kg_consume_all, the function's own result).
 *
 * The reader does what kinesis.consume does (consumers.c: the same checks,
 * leases and checkpoints in the caller's transaction), but reads each
 * leased shard to its stable end, in chunks, and repeats passes while they
 * find records or finish a parent shard (its children become eligible),
 * up to max_records.  A shard's checkpoint moves once, when the reader
 * leaves the shard.  A reader ended early (kg_consume_reader_end: a LIMIT
 * above the scan, a cursor closed) moves the checkpoint of the shard it is
 * in to the last record it returned, so that a statement that stops early
 * has consumed exactly the records it was given: the next run starts with
 * the first one it was not.
 *
 * Between steps the reader keeps no pointer into the stream cache (it looks
 * the stream up by name, a hash lookup, per chunk); when the stream was
 * deleted meanwhile the read ends.  A record returned is valid until the
 * next step.
 *
 * One consumer is read by at most one reader of a transaction at a time
 * (ResourceInUseException otherwise): two at once, say a statement that
 * joins a stream's bookmarked read with itself, would both start at the
 * same checkpoints and return the records twice.  The open readers are
 * listed per backend, in TopMemoryContext; the list is emptied at
 * transaction end and loses the readers of an aborted subtransaction.
 *
 * Locking: the consumer's kinesis.consumer_shards rows (consumer_leases.c),
 * to the end of the caller's transaction; AccessShareLock on the segment
 * being read (read.c), held from one step to the next.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "common/kg_errors.h"

#include "streams/consume.h"
#include "streams/consumer_leases.h"
#include "streams/read.h"
#include "streams/stream_cache.h"

struct KgConsumeReader
{
	char		stream_name[KG_STREAM_NAME_MAX + 1];
	int32		stream_id;
	TimestampTz stream_created;
	int32		consumer_id;
	TupleDesc	desc;			/* of the rows built (kinesis.record's) */
	int64		remaining;		/* records still to return */
	MemoryContext cxt;			/* the reader's, for its leases */
	MemoryContext chunk_cxt;	/* the shard reader's, reset per chunk */
	bool		done;
	/* the pass */
	bool		passed;			/* a pass was begun */
	List	   *leases;			/* KgLease of the pass */
	int			next_lease;		/* index in leases of the next shard */
	int64		pass_count;		/* records returned in the pass */
	bool		pass_progress;	/* a shard finished in the pass */
	/* the shard being read (lease NULL: none) */
	KgLease    *lease;
	int64		pos;			/* where it is read to: its new checkpoint */
	bool		shard_end;		/* closed shard read to its end */
	bool		reading;		/* reader holds a chunk */
	KgShardReader reader;
	KgRecordRows rows;
};

/* A reader open in this transaction (see the file header). */
typedef struct KgOpenReader
{
	int32		consumer_id;
	SubTransactionId subid;		/* where it began, or the parent it went to */
	const KgConsumeReader *reader;	/* identity only: never dereferenced */
} KgOpenReader;

static List *open_readers = NIL;
static bool open_readers_callbacks = false;

/* Transaction end: no reader is open any more. */
static void
kg_open_readers_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		list_free_deep(open_readers);
		open_readers = NIL;
	}
}

/*
 * Subtransaction end: the readers of an aborted one are gone (their memory
 * with them); those of a committed one belong to its parent now.
 */
static void
kg_open_readers_subxact(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	foreach(lc, open_readers)
	{
		KgOpenReader *o = lfirst(lc);

		if (o->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			o->subid = parentSubid;
		else
		{
			open_readers = foreach_delete_current(open_readers, lc);
			pfree(o);
		}
	}
}

/*
 * Note r as open on its consumer; ResourceInUseException when another
 * reader of this transaction has it open.
 */
static void
kg_open_readers_add(KgConsumeReader *r, const char *consumer)
{
	ListCell   *lc;
	KgOpenReader *o;
	MemoryContext old;

	foreach(lc, open_readers)
		if (((KgOpenReader *) lfirst(lc))->consumer_id == r->consumer_id)
			ereport(ERROR,
					(errcode(KG_RESOURCE_IN_USE),
					 errmsg("ResourceInUseException: consumer \"%s\" of stream \"%s\" is already being read in this transaction",
							consumer, r->stream_name),
					 errdetail("Two reads of one consumer at once would both start at its checkpoints."),
					 errhint("Read the stream once per statement, or let one read end before the next begins.")));
	if (!open_readers_callbacks)
	{
		RegisterXactCallback(kg_open_readers_xact, NULL);
		RegisterSubXactCallback(kg_open_readers_subxact, NULL);
		open_readers_callbacks = true;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	o = palloc(sizeof(KgOpenReader));
	o->consumer_id = r->consumer_id;
	o->subid = GetCurrentSubTransactionId();
	o->reader = r;
	open_readers = lappend(open_readers, o);
	MemoryContextSwitchTo(old);
}

/* r is no longer open. */
static void
kg_open_readers_remove(const KgConsumeReader *r)
{
	ListCell   *lc;

	foreach(lc, open_readers)
	{
		KgOpenReader *o = lfirst(lc);

		if (o->reader == r)
		{
			open_readers = foreach_delete_current(open_readers, lc);
			pfree(o);
			return;
		}
	}
}

/* The stream, if it is still the one the reader began on; else NULL. */
static KgStream *
kg_consume_reader_stream(KgConsumeReader *r)
{
	KgStream   *s = kg_stream_get(r->stream_name, true);

	if (s == NULL || s->stream_id != r->stream_id || s->created_at != r->stream_created)
		return NULL;
	return s;
}

/*
 * Begin a chunk of the current shard at r->pos; false when the shard is
 * gone (the stream was deleted meanwhile).
 */
static bool
kg_consume_reader_chunk(KgConsumeReader *r)
{
	KgStream   *s = kg_consume_reader_stream(r);
	KgShard    *sh = s ? kg_stream_find_shard(s, r->lease->shard_index) : NULL;
	MemoryContext old;

	if (sh == NULL)
		return false;
	MemoryContextReset(r->chunk_cxt);
	old = MemoryContextSwitchTo(r->chunk_cxt);
	kg_record_rows_init(&r->rows, r->desc, sh->shard_index);
	kg_shard_reader_begin(&r->reader, s, sh, r->pos, (int) Min(r->remaining, KG_CONSUME_CHUNK),
						  KG_CONSUME_MAX_BYTES);
	MemoryContextSwitchTo(old);
	r->reading = true;
	return true;
}

/* Leave the current shard: move its checkpoint to where it was read to. */
static void
kg_consume_reader_leave_shard(KgConsumeReader *r)
{
	KgLease    *l = r->lease;

	r->lease = NULL;
	if (r->pos != l->checkpoint || r->shard_end)
		kg_store_checkpoint(r->consumer_id, l->shard_index, r->pos, r->shard_end);
	if (r->shard_end)
		r->pass_progress = true;
}

/*
 * Begin consuming stream_name as consumer (kinesis.consume's checks, as the
 * current user), at most max_records (<= 0: no cap), building rows of desc.
 * The reader lives in the current memory context.
 */
KgConsumeReader *
kg_consume_reader_begin(const char *stream_name, const char *consumer, int64 max_records,
						TupleDesc desc)
{
	KgConsumeReader *r = palloc0(sizeof(KgConsumeReader));
	KgStream   *s = kg_consume_open(stream_name, consumer, &r->consumer_id);

	strlcpy(r->stream_name, s->name, sizeof(r->stream_name));
	r->stream_id = s->stream_id;
	r->stream_created = s->created_at;
	r->desc = desc;
	r->remaining = max_records > 0 ? max_records : PG_INT64_MAX;
	r->cxt = CurrentMemoryContext;
	r->chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "kinesis_glue consume",
										 ALLOCSET_DEFAULT_SIZES);
	kg_open_readers_add(r, consumer);
	return r;
}

/*
 * The next record into *rec, and the rows of its shard into *rows (its
 * shard_id; the builder of its row): valid until the next step.  False when
 * the consume is through (every checkpoint moved).
 */
bool
kg_consume_reader_next(KgConsumeReader *r, KgStoredRecord *rec, KgRecordRows **rows)
{
	for (;;)
	{
		if (r->reading)
		{
			MemoryContext old = MemoryContextSwitchTo(r->chunk_cxt);
			bool		more = kg_shard_reader_next(&r->reader, rec);

			MemoryContextSwitchTo(old);
			if (more)
			{
				r->remaining--;
				r->pass_count++;
				*rows = &r->rows;
				return true;
			}
			/* the chunk is through: the next one, or the shard is */
			r->reading = false;
			r->pos = r->reader.res.next_position;
			r->shard_end = r->reader.res.shard_end;
			if (r->reader.res.more && r->remaining > 0 && kg_consume_reader_chunk(r))
				continue;
			kg_consume_reader_leave_shard(r);
			CHECK_FOR_INTERRUPTS();
			continue;
		}
		if (r->done)
			return false;
		if (!r->passed || r->next_lease >= list_length(r->leases))
		{
			KgStream   *s;
			MemoryContext old;

			/* a pass is through: another while it found records or finished a parent */
			if (r->passed && (r->remaining <= 0 || (r->pass_count == 0 && !r->pass_progress)))
				break;
			if ((s = kg_consume_reader_stream(r)) == NULL)
				break;
			old = MemoryContextSwitchTo(r->cxt);
			r->leases = kg_acquire_leases(s, r->consumer_id);
			MemoryContextSwitchTo(old);
			r->passed = true;
			r->next_lease = 0;
			r->pass_count = 0;
			r->pass_progress = false;
			continue;
		}
		r->lease = list_nth(r->leases, r->next_lease++);
		if (r->remaining <= 0)
		{
			r->lease = NULL;	/* capped: the other leases wait for the next run */
			continue;
		}
		r->pos = r->lease->checkpoint;
		r->shard_end = false;
		if (!kg_consume_reader_chunk(r))
			r->lease = NULL;
	}
	r->done = true;
	return false;
}

/*
 * End the consume.  Early (records not returned yet): the current shard's
 * checkpoint moves to the last record returned, the shards not begun keep
 * theirs.  Harmless when the reader is through or already ended.
 */
void
kg_consume_reader_end(KgConsumeReader *r)
{
	if (r->reading)
	{
		kg_shard_reader_end(&r->reader);
		r->reading = false;
		r->pos = r->reader.last_seq;
		r->shard_end = false;
	}
	if (r->lease != NULL)
		kg_consume_reader_leave_shard(r);
	r->done = true;
	kg_open_readers_remove(r);
	if (r->chunk_cxt != NULL)
		MemoryContextDelete(r->chunk_cxt);
	r->chunk_cxt = NULL;
}

/*
 * Declared in streams/consume.h: consume as kinesis.consume does (same
 * checks, leases and checkpoints in the caller's transaction), but every
 * record readable now, up to max_records (<= 0: no cap), in one call into
 * store (whose descriptor is desc, kinesis.record's).  Returns the number
 * of records stored.
 */
int64
kg_consume_all(const char *stream_name, const char *consumer, int64 max_records,
			   Tuplestorestate *store, TupleDesc desc)
{
	KgConsumeReader *r = kg_consume_reader_begin(stream_name, consumer, max_records, desc);
	KgStoredRecord rec;
	KgRecordRows *rows;
	int64		total = 0;

	while (kg_consume_reader_next(r, &rec, &rows))
	{
		/* the row's scratch space goes with the chunk (tuplestores copy) */
		MemoryContext old = MemoryContextSwitchTo(r->chunk_cxt);

		kg_record_rows_put(rows, &rec, store);
		MemoryContextSwitchTo(old);
		total++;
	}
	kg_consume_reader_end(r);
	return total;
}
