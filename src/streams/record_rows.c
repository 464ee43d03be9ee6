/*-------------------------------------------------------------------------
 *
 * record_rows.c
 *		Rows of kinesis.record (shard_id, sequence_number,
 *		approximate_arrival_timestamp, partition_key, data, and possibly
 *		more columns that are NULL) built from the stored rows of a shard.
 *
 * A stored row (shard_index integer, sequence_number, ...) and the row
 * built (shard_id text, sequence_number, ...) differ only before
 * sequence_number: from there on, both are the same values at offsets that
 * are equal modulo the maximum alignment, so heap_fill_tuple would write the
 * very bytes of the stored row.  The first row is formed by heap_form_tuple;
 * its header and shard_id (the "head") are the template of the others, each
 * of which is that head, its own length and a copy of the stored row's bytes
 * from sequence_number on: no deforming into values and no forming again,
 * which cost about 1,000 instructions per record.  The template is taken
 * only when the first row's bytes after the head are the stored row's
 * (checked byte by byte), and a row is copied only when the stored row has
 * no nulls and no external values (read.c passes it only then); any other
 * row is formed from its values.  Builds with assertions check every copied
 * row against heap_form_tuple.
 *
 * Locking: none (see record_rows.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "utils/builtins.h"

#include "common/kg_errors.h"
#include "streams/record_rows.h"
#include "streams/stream_cache.h"

/* where sequence_number starts in a stored row's data (after an integer) */
#define KG_STORED_TAIL_OFFSET att_align_nominal(sizeof(int32), TYPALIGN_DOUBLE)

/* Prepare b to build rows of desc for the records of shard shard_index. */
void
kg_record_rows_init(KgRecordRows *b, TupleDesc desc, int32 shard_index)
{
	memset(b, 0, sizeof(*b));
	b->desc = desc;
	b->shard_id = CStringGetTextDatum(kg_shard_id_string(shard_index));
}

/*
 * The values of rec's row (the columns after kinesis.record's are NULL);
 * with detoast, external values are fetched into the current memory
 * context.  The others point into rec, valid as long as it is.
 */
static void
kg_record_rows_values(KgRecordRows *b, const KgStoredRecord *rec, bool detoast,
					  Datum *values, bool *nulls)
{
	for (int i = 0; i < b->desc->natts; i++)
		nulls[i] = i >= KG_STORED_NATTS;
	values[0] = b->shard_id;
	values[1] = Int64GetDatum(rec->seq);
	values[2] = TimestampTzGetDatum(rec->arrival);
	values[3] = rec->partition_key;
	values[4] = rec->data;
	if (detoast)
		for (int i = 3; i < 5; i++)
			if (VARATT_IS_EXTERNAL(DatumGetPointer(values[i])))
				values[i] = PointerGetDatum(detoast_external_attr((struct varlena *) DatumGetPointer(values[i])));
}

/*
 * rec's row as a scan slot holds it: values pointing into rec, except
 * external ones, fetched into row_cxt (only then is it switched to).
 */
void
kg_record_rows_slot_values(KgRecordRows *b, const KgStoredRecord *rec, Datum *values, bool *nulls,
						   MemoryContext row_cxt)
{
	kg_record_rows_values(b, rec, false, values, nulls);
	for (int i = 3; i < 5; i++)
		if (unlikely(VARATT_IS_EXTERNAL(DatumGetPointer(values[i]))))
		{
			MemoryContext old = MemoryContextSwitchTo(row_cxt);

			values[i] = PointerGetDatum(detoast_external_attr((struct varlena *) DatumGetPointer(values[i])));
			MemoryContextSwitchTo(old);
		}
}

/* The stored row's bytes from sequence_number on, and their length. */
static inline char *
kg_stored_tail(HeapTuple stored, Size *len)
{
	HeapTupleHeader st = stored->t_data;

	*len = stored->t_len - st->t_hoff - KG_STORED_TAIL_OFFSET;
	return (char *) st + st->t_hoff + KG_STORED_TAIL_OFFSET;
}

/* Take the head of formed, the row of rec, as the template, if it fits. */
static void
kg_record_rows_learn(KgRecordRows *b, HeapTuple formed, const KgStoredRecord *rec)
{
	Size		tail_len;
	char	   *tail;
	Size		head;

	if (rec->stored == NULL || b->head_len != 0 || b->no_copy)
		return;
	tail = kg_stored_tail(rec->stored, &tail_len);
	head = formed->t_len - tail_len;
	if (HeapTupleHasExternal(formed) || formed->t_len < tail_len ||
		head > sizeof(b->head) || head < formed->t_data->t_hoff ||
		memcmp((char *) formed->t_data + head, tail, tail_len) != 0)
	{
		b->no_copy = true;
		return;
	}
	memcpy(b->head, formed->t_data, head);
	b->head_len = head;
}

/*
 * The length of rec's row when kg_record_rows_copy can build it; 0 when it
 * must be formed (kg_record_rows_form).
 */
Size
kg_record_rows_copy_len(KgRecordRows *b, const KgStoredRecord *rec)
{
	Size		tail_len;

	if (b->head_len == 0 || rec->stored == NULL)
		return 0;
	(void) kg_stored_tail(rec->stored, &tail_len);
	return b->head_len + tail_len;
}

/*
 * Build rec's row in dst (len bytes, from kg_record_rows_copy_len; suitably
 * aligned): the head, its length (as a composite datum), the stored bytes.
 */
void
kg_record_rows_copy(KgRecordRows *b, const KgStoredRecord *rec, HeapTupleHeader dst, Size len)
{
	Size		tail_len;
	char	   *tail = kg_stored_tail(rec->stored, &tail_len);

	Assert(len == b->head_len + tail_len);
	memcpy(dst, b->head, b->head_len);
	HeapTupleHeaderSetDatumLength(dst, len);
	memcpy((char *) dst + b->head_len, tail, tail_len);
#ifdef USE_ASSERT_CHECKING
	{
		HeapTuple	formed;
		Datum	   *values = palloc(sizeof(Datum) * b->desc->natts);
		bool	   *nulls = palloc(sizeof(bool) * b->desc->natts);

		kg_record_rows_values(b, rec, false, values, nulls);
		formed = heap_form_tuple(b->desc, values, nulls);
		Assert(formed->t_len == len);
		Assert(memcmp(formed->t_data, dst, len) == 0);
		heap_freetuple(formed);
		pfree(values);
		pfree(nulls);
	}
#endif
}

/*
 * rec's row formed by heap_form_tuple (palloc'd), with external values
 * fetched first when detoast; the first formed row of a stored row that
 * may be copied becomes the template of the others.
 */
HeapTuple
kg_record_rows_form(KgRecordRows *b, const KgStoredRecord *rec, bool detoast)
{
	Datum	   *values = palloc(sizeof(Datum) * b->desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * b->desc->natts);
	HeapTuple	tup;

	kg_record_rows_values(b, rec, detoast, values, nulls);
	tup = heap_form_tuple(b->desc, values, nulls);
	kg_record_rows_learn(b, tup, rec);
	pfree(values);
	pfree(nulls);
	return tup;
}

/* Put rec's row into store (whose tuple descriptor is b->desc). */
void
kg_record_rows_put(KgRecordRows *b, const KgStoredRecord *rec, Tuplestorestate *store)
{
	Size		len = kg_record_rows_copy_len(b, rec);
	HeapTupleData tup;

	if (len == 0)
	{
		HeapTuple	formed = kg_record_rows_form(b, rec, false);

		tuplestore_puttuple(store, formed);
		heap_freetuple(formed);
		return;
	}
	if (len > b->scratch_cap)
	{
		Size		cap = Max(len, 1024);

		if (b->scratch)
			pfree(b->scratch);
		b->scratch = palloc(cap);
		b->scratch_cap = cap;
	}
	kg_record_rows_copy(b, rec, (HeapTupleHeader) b->scratch, len);
	tup.t_len = len;
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	tup.t_data = (HeapTupleHeader) b->scratch;
	tuplestore_puttuple(store, &tup);
}
