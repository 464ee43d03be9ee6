/*-------------------------------------------------------------------------
 *
 * video_clip.c
 *		kinesis_video.get_clip: the media of a range of fragments
 *		concatenated in fragment-number order, as one row.
 *
 * kinesis_video._clip_plan (video_read.sql) does every check of GetClip
 * (the caller may read the stream, retention, the range, 1-200 fragments
 * and 100 MB) and returns the range query; this file runs that query, as
 * the caller, and builds the one result row.
 *
 * The clip is the cost: up to 100 MB.  A function in FROM hands its rows
 * over in a tuplestore, so the row is built once, as the minimal tuple the
 * store keeps, with the payload written in place: each fragment's TOAST
 * chunks are read straight into the row (no detoasted copy of a fragment,
 * no growing buffer, no zeroing), and the row is handed to the store
 * without a copy (kg_video_clip_handoff).  The clip's bytes are written
 * once, into memory touched once; string_agg(media, '') of the same rows
 * copies them three or four times (detoast, append, the doublings, the
 * final copy).  The store's memory limit is raised to hold the row, so it
 * is never written to a temporary file and read back.
 *
 * Locking: none of its own; the range query takes ACCESS SHARE on the
 * stream's fragment table, the TOAST reads on its TOAST tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "common/kg_errors.h"
#include "video/video.h"

PG_FUNCTION_INFO_V1(kg_video_get_clip);

/* The result row: content_type text, payload bytea, fragment_count
 * integer, first_fragment_number bigint, last_fragment_number bigint. */
#define KG_CLIP_NATTS 5

/*
 * Append the media of one fragment (a datum of the range query) at dst,
 * which has room for its raw size: an uncompressed on-disk TOAST value is
 * read chunk by chunk straight into dst; anything else is detoasted and
 * copied.  Returns the number of bytes written.
 */
static Size
kg_video_clip_copy(char *dst, Datum media)
{
	struct varlena *attr = (struct varlena *) DatumGetPointer(media);
	struct varlena *value;
	Size		len;

	if (VARATT_IS_EXTERNAL_ONDISK(attr))
	{
		struct varatt_external ptr;

		VARATT_EXTERNAL_GET_POINTER(ptr, attr);
		if (!VARATT_EXTERNAL_IS_COMPRESSED(ptr))
		{
			int32		size = VARATT_EXTERNAL_GET_EXTSIZE(ptr);
			Relation	toastrel;

			if (size > 0)
			{
				/* writes only the data of the "varlena" at dst - VARHDRSZ */
				toastrel = table_open(ptr.va_toastrelid, AccessShareLock);
				table_relation_fetch_toast_slice(toastrel, ptr.va_valueid, size, 0, size,
												 (struct varlena *) (dst - VARHDRSZ));
				table_close(toastrel, AccessShareLock);
			}
			return (Size) size;
		}
	}
	value = (struct varlena *) PG_DETOAST_DATUM_PACKED(media);
	len = VARSIZE_ANY_EXHDR(value);
	memcpy(dst, VARDATA_ANY(value), len);
	if (value != attr)
		pfree(value);
	return len;
}

/*
 * Where heap_fill_tuple puts the five columns of the result row when none
 * is null and the payload is too long for a short header: content_type
 * (text; a short header up to 126 bytes), payload (bytea, 4-byte header),
 * fragment_count (int4), first and last fragment number (int8).  Offsets
 * are from the start of the row's data area.
 */
typedef struct KgClipLayout
{
	bool		ct_short;		/* content_type with a 1-byte header */
	Size		ct_off;
	Size		payload_off;	/* the payload's 4-byte header */
	Size		count_off;
	Size		first_off;
	Size		last_off;
	Size		data_len;
} KgClipLayout;

static void
kg_video_clip_layout(TupleDesc tupdesc, Size ctlen, Size payload_len, KgClipLayout *l)
{
	Form_pg_attribute ct = TupleDescAttr(tupdesc, 0);
	Size		off = 0;

	/* as VARLENA_ATT_IS_PACKABLE and VARATT_CAN_MAKE_SHORT decide */
	l->ct_short = ct->attstorage != TYPSTORAGE_PLAIN && ctlen + VARHDRSZ_SHORT <= VARATT_SHORT_MAX;
	if (!l->ct_short)
		off = att_align_nominal(off, ct->attalign);
	l->ct_off = off;
	off += (l->ct_short ? VARHDRSZ_SHORT : VARHDRSZ) + ctlen;
	off = att_align_nominal(off, TupleDescAttr(tupdesc, 1)->attalign);
	l->payload_off = off;
	off += VARHDRSZ + payload_len;
	off = att_align_nominal(off, TupleDescAttr(tupdesc, 2)->attalign);
	l->count_off = off;
	off += sizeof(int32);
	off = att_align_nominal(off, TupleDescAttr(tupdesc, 3)->attalign);
	l->first_off = off;
	off += sizeof(int64);
	off = att_align_nominal(off, TupleDescAttr(tupdesc, 4)->attalign);
	l->last_off = off;
	off += sizeof(int64);
	l->data_len = off;
}

/*
 * The result row, as heap_form_minimal_tuple would form it from these
 * values, palloc'd in the current memory context, with the media of the
 * fragments (column 2 of the first nrows rows of tuptable) written in
 * place as its payload of total bytes (more than VARATT_SHORT_MAX): the
 * payload's bytes are written once, never zeroed or copied first.
 */
static MinimalTuple
kg_video_clip_tuple(TupleDesc tupdesc, text *content_type, SPITupleTable *tuptable, uint64 nrows,
					Size total, int32 count, int64 first, int64 last)
{
	Size		ctlen = VARSIZE_ANY_EXHDR(content_type);
	KgClipLayout l;
	Size		hoff = MAXALIGN(SizeofMinimalTupleHeader);
	Size		len;
	MinimalTuple tuple;
	char	   *data;
	char	   *payload;
	Size		used = 0;

	Assert(tupdesc->natts == KG_CLIP_NATTS && total + VARHDRSZ_SHORT > VARATT_SHORT_MAX);
	kg_video_clip_layout(tupdesc, ctlen, total, &l);
	len = hoff + l.data_len;
	if (len > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("ClientLimitExceededException: the clip is too large")));
	tuple = (MinimalTuple) palloc(len);
	data = (char *) tuple + hoff;
	payload = data + l.payload_off + VARHDRSZ;

	/* all but the payload's data zeroed (padding included), as palloc0 would */
	memset(tuple, 0, hoff + l.payload_off + VARHDRSZ);
	memset(payload + total, 0, l.data_len - (l.payload_off + VARHDRSZ + total));
	tuple->t_len = len;
	HeapTupleHeaderSetNatts(tuple, KG_CLIP_NATTS);
	tuple->t_hoff = hoff + MINIMAL_TUPLE_OFFSET;
	tuple->t_infomask = HEAP_HASVARWIDTH;
	if (l.ct_short)
	{
		SET_VARSIZE_SHORT(data + l.ct_off, VARHDRSZ_SHORT + ctlen);
		memcpy(data + l.ct_off + VARHDRSZ_SHORT, VARDATA_ANY(content_type), ctlen);
	}
	else
	{
		SET_VARSIZE(data + l.ct_off, VARHDRSZ + ctlen);
		memcpy(data + l.ct_off + VARHDRSZ, VARDATA_ANY(content_type), ctlen);
	}
	SET_VARSIZE(data + l.payload_off, VARHDRSZ + total);
	*(int32 *) (data + l.count_off) = count;
	*(int64 *) (data + l.first_off) = first;
	*(int64 *) (data + l.last_off) = last;

	for (uint64 i = 0; i < nrows; i++)
	{
		bool		isnull;
		Datum		media = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2, &isnull);

		if (isnull)
			continue;
		if (used + toast_raw_datum_size(media) - VARHDRSZ > total)
			elog(ERROR, "a fragment of the clip changed size while it was read");
		used += kg_video_clip_copy(payload + used, media);
	}
	if (used != total)
		elog(ERROR, "a fragment of the clip changed size while it was read");

#ifdef USE_ASSERT_CHECKING
	{
		/* the same row through heap_form_minimal_tuple: byte for byte */
		bytea	   *copy = palloc(VARHDRSZ + total);
		MinimalTuple check;

		SET_VARSIZE(copy, VARHDRSZ + total);
		memcpy(VARDATA(copy), payload, total);
		check = heap_form_minimal_tuple(tupdesc,
										(Datum[]) {PointerGetDatum(content_type), PointerGetDatum(copy),
												   Int32GetDatum(count), Int64GetDatum(first), Int64GetDatum(last)},
										(bool[]) {false, false, false, false, false});
		Assert(check->t_len == tuple->t_len && memcmp(check, tuple, tuple->t_len) == 0);
		heap_free_minimal_tuple(check);
		pfree(copy);
	}
#endif
	return tuple;
}

/*
 * Handing the row to the tuplestore without a copy.  tuplestore_puttupleslot
 * keeps what ExecCopySlotMinimalTuple returns for the slot: a minimal tuple
 * palloc'd in the store's memory context, which the store then owns.  The
 * row built above is exactly that (made in the store's context), so this
 * slot's copy_minimal_tuple hands it over instead of copying 100 MB at
 * most once more.  The slot is used for nothing else.
 */
typedef struct KgClipHandoff
{
	TupleTableSlot base;
	MinimalTuple tuple;			/* the row, until handed over */
} KgClipHandoff;

static MinimalTuple
kg_video_clip_handoff(TupleTableSlot *slot)
{
	KgClipHandoff *h = (KgClipHandoff *) slot;
	MinimalTuple tuple = h->tuple;

	Assert(tuple != NULL && GetMemoryChunkContext(tuple) == CurrentMemoryContext);
	h->tuple = NULL;
	return tuple;
}

static const TupleTableSlotOps kg_video_clip_handoff_ops = {
	.base_slot_size = sizeof(KgClipHandoff),
	.copy_minimal_tuple = kg_video_clip_handoff,
};

/*
 * kinesis_video.get_clip(stream_name, fragment_selector_type,
 *		start_timestamp, end_timestamp)
 *		RETURNS TABLE (content_type text, payload bytea, fragment_count integer,
 *					   first_fragment_number bigint, last_fragment_number bigint)
 *
 * One row, or the errors of kinesis_video._clip_plan.  Runs as the caller,
 * with search_path pinned by the function's SET clause.
 */
Datum
kg_video_get_clip(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;
	Datum		args[4];
	char		nulls[4];
	bool		isnull;
	HeapTuple	plan;
	TupleDesc	plandesc;
	text	   *content_type;
	char	   *range_sql;
	Datum		range_args[3];
	char		range_nulls[3] = {' ', ' ', ' '};
	SPITupleTable *rows;
	uint64		nrows;
	Size		total = 0;
	int64		first = 0;
	int64		last = 0;
	int			count = 0;
	MemoryContext caller_cxt = CurrentMemoryContext;
	MemoryContext per_query;
	Tuplestorestate *store;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || !(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE || tupdesc->natts != KG_CLIP_NATTS)
		elog(ERROR, "return type must be a row type of %d columns", KG_CLIP_NATTS);
	for (int i = 0; i < 4; i++)
	{
		args[i] = PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to the SPI manager");
	/* the checks, as the caller */
	if (SPI_execute_with_args("SELECT content_type, range_sql, horizon "
							  "FROM kinesis_video._clip_plan($1, $2, $3, $4)",
							  4, (Oid[]) {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID},
							  args, nulls, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "kinesis_video._clip_plan did not return one row");
	plan = SPI_tuptable->vals[0];
	plandesc = SPI_tuptable->tupdesc;
	content_type = DatumGetTextPP(SPI_getbinval(plan, plandesc, 1, &isnull));
	range_sql = TextDatumGetCString(SPI_getbinval(plan, plandesc, 2, &isnull));
	range_args[0] = SPI_getbinval(plan, plandesc, 3, &isnull);
	range_args[1] = args[2];
	range_args[2] = args[3];

	/* the fragments: their TOAST pointers, in order (200 at most) */
	if (SPI_execute_with_args(psprintf("SELECT fragment_number, media FROM (%s) c ORDER BY fragment_number",
									   range_sql),
							  3, (Oid[]) {TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID},
							  range_args, range_nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the fragments of the clip");
	rows = SPI_tuptable;
	nrows = SPI_processed;
	for (uint64 i = 0; i < nrows; i++)
	{
		int64		number = DatumGetInt64(SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &isnull));
		Datum		media = SPI_getbinval(rows->vals[i], rows->tupdesc, 2, &isnull);

		if (!isnull)
			total += toast_raw_datum_size(media) - VARHDRSZ;
		if (count++ == 0)
			first = number;
		last = number;
	}
	if (count == 0)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: no fragments of video stream \"%s\" in the requested range",
						text_to_cstring(PG_GETARG_TEXT_PP(0)))));

	/* the one row, in the query's memory, in a store that holds it */
	per_query = rsinfo->econtext->ecxt_per_query_memory;
	MemoryContextSwitchTo(per_query);
	tupdesc = CreateTupleDescCopy(tupdesc);
	store = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0, false,
								  Max(work_mem, (int) (total / 1024) + 1024));
	if (total + VARHDRSZ_SHORT > VARATT_SHORT_MAX)
	{
		KgClipHandoff handoff = {
			.base = {.tts_ops = &kg_video_clip_handoff_ops, .tts_tupleDescriptor = tupdesc},
			.tuple = kg_video_clip_tuple(tupdesc, content_type, rows, nrows, total, count, first, last),
		};

		tuplestore_puttupleslot(store, &handoff.base);
		Assert(handoff.tuple == NULL);
	}
	else
	{
		/* a clip of a few bytes: no need to save a copy */
		HeapTuple	tuple;
		bytea	   *payload = palloc(VARHDRSZ + total);
		Size		used = 0;

		for (uint64 i = 0; i < nrows; i++)
		{
			Datum		media = SPI_getbinval(rows->vals[i], rows->tupdesc, 2, &isnull);

			if (!isnull)
				used += kg_video_clip_copy(VARDATA(payload) + used, media);
		}
		SET_VARSIZE(payload, VARHDRSZ + used);
		tuple = heap_form_tuple(tupdesc,
								(Datum[]) {PointerGetDatum(content_type), PointerGetDatum(payload),
										   Int32GetDatum(count), Int64GetDatum(first), Int64GetDatum(last)},
								(bool[]) {false, false, false, false, false});
		tuplestore_puttuple(store, tuple);
		heap_freetuple(tuple);
	}
	MemoryContextSwitchTo(caller_cxt);
	SPI_finish();

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = tupdesc;
	return (Datum) 0;
}
