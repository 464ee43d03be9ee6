/*-------------------------------------------------------------------------
 *
 * video_clip.c
 *		kinesis_video._clip_media: the payload of get_clip, the media of a
 *		range of fragments concatenated in fragment-number order.
 *
 * string_agg(media, '') would do the same, but it grows its buffer by
 * doubling (about twice the clip in copies and fresh pages) and copies the
 * result once more.  get_clip knows the clip's size before it builds it
 * (it checks the 100 MB limit first), so this fills one buffer of exactly
 * that size, fragment by fragment, through a cursor: one fragment is
 * detoasted at a time.  get_clip (video_read.sql) does every check; this
 * function is internal (no PUBLIC EXECUTE) and runs the range query
 * get_clip built, as the caller, with get_clip's three parameters.
 *
 * Locking: none of its own; the query takes ACCESS SHARE on the stream's
 * fragment table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "video/video.h"

PG_FUNCTION_INFO_V1(kg_video_clip_media);

#define KG_CLIP_FETCH 16

/*
 * kinesis_video._clip_media(range_sql text, horizon timestamptz,
 * start_ts timestamptz, end_ts timestamptz, total_bytes bigint) -> bytea
 *
 * range_sql selects fragment rows (with columns fragment_number and media)
 * for $1..$3; the result is their media in fragment-number order.
 * total_bytes sizes the buffer; a clip that turns out larger (a fragment
 * put after get_clip counted, in another snapshot) grows it.  NULL when
 * range_sql or total_bytes is NULL.
 */
Datum
kg_video_clip_media(PG_FUNCTION_ARGS)
{
	char	   *range_sql;
	int64		total;
	Size		capacity;
	Size		used = VARHDRSZ;
	char	   *buf;
	Portal		portal;
	SPIPlanPtr	plan;
	Datum		args[3];
	Oid			types[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	char		nulls[3];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(4))
		PG_RETURN_NULL();
	range_sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	total = PG_GETARG_INT64(4);
	capacity = (Size) Max(total, 0) + VARHDRSZ;
	if (total < 0 || total > MaxAllocSize - VARHDRSZ)
		elog(ERROR, "clip size out of range: " INT64_FORMAT, total);
	for (int i = 0; i < 3; i++)
	{
		args[i] = PG_GETARG_DATUM(i + 1);
		nulls[i] = PG_ARGISNULL(i + 1) ? 'n' : ' ';
	}
	/* in the caller's context: it outlives SPI */
	buf = palloc(capacity);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to the SPI manager");
	plan = SPI_prepare(psprintf("SELECT media FROM (%s) c ORDER BY fragment_number", range_sql),
					   3, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the clip query: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, args, nulls, true);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, KG_CLIP_FETCH);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
			bytea	   *media;
			Size		len;

			if (isnull)
				continue;
			media = DatumGetByteaPP(d);
			len = VARSIZE_ANY_EXHDR(media);
			if (used + len > capacity)
			{
				capacity = Min(Max(used + len, capacity * 2), MaxAllocSize);
				if (used + len > capacity)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("ClientLimitExceededException: the clip is too large")));
				buf = repalloc(buf, capacity);
			}
			memcpy(buf + used, VARDATA_ANY(media), len);
			used += len;
			if ((Pointer) media != DatumGetPointer(d))
				pfree(media);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();

	SET_VARSIZE(buf, used);
	PG_RETURN_BYTEA_P((bytea *) buf);
}
