/*-------------------------------------------------------------------------
 *
 * video_put.c
 *		kinesis_video.put_media: ingest of one media fragment.
 *
 * A put checks the caller's INSERT privilege on the stream's fragment
 * table and the KVS limits (fragment up to 50 MB, duration 1-20 s, up to
 * 10 metadata tags), then takes the stream's put lock (video.h) and, under
 * it, with a snapshot taken after the lock:
 *	- refuses a fragment whose producer timestamp is earlier than the
 *	  previous fragment's (KVS ack error 4004), so fragment number, server
 *	  timestamp and producer timestamp orders agree within a stream;
 *	- takes the fragment number from kinesis_video.fragment_numbers (a
 *	  WAL-logged sequence: a number returned by a committed put is never
 *	  handed out again, also after a crash; aborted puts leave gaps);
 *	- stamps the server timestamp, never below the previous one;
 *	- inserts into the time segment that covers it (created ahead by the
 *	  worker; if missing, wakes the worker and waits up to
 *	  kinesis_glue.segment_wait).
 * The lock is held until the transaction ends, so a stream's fragments
 * commit in fragment-number order and a reader that returns everything
 * visible up to number N never later sees a number below N appear.
 *
 * Locking: the stream's put lock (ExclusiveLock on the object
 * (kinesis_video.streams, stream_id)) for the rest of the transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "common/kg_compat.h"
#include "common/kg_errors.h"
#include "common/kg_guc.h"
#include "common/kg_shmem.h"
#include "video/video.h"

/*
 * InvalidArgumentException unless the metadata is an object of at most 10
 * string values, names of 1-128 bytes not starting with "AWS", values of
 * at most 256 bytes (the KVS fragment metadata rules).
 */
static void
kg_video_check_metadata(Jsonb *jb)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: fragment metadata must be a JSON object of name/value strings")));
	if (JB_ROOT_COUNT(jb) > KG_VIDEO_MAX_METADATA)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: a fragment has at most %d metadata tags", KG_VIDEO_MAX_METADATA),
				 errdetail("KVS acknowledgement error 4009 (fragment metadata limit reached).")));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			if (v.val.string.len < 1 || v.val.string.len > 128 ||
				(v.val.string.len >= 3 && strncmp(v.val.string.val, "AWS", 3) == 0))
				ereport(ERROR,
						(errcode(KG_INVALID_ARGUMENT),
						 errmsg("InvalidArgumentException: fragment metadata names must have 1 to 128 bytes and must not start with \"AWS\"")));
		}
		else if (tok == WJB_VALUE)
		{
			if (v.type != jbvString || v.val.string.len > 256)
				ereport(ERROR,
						(errcode(KG_INVALID_ARGUMENT),
						 errmsg("InvalidArgumentException: fragment metadata values must be strings of at most 256 bytes")));
		}
	}
}

/* Does a segment of the stream cover ts?  Caller is inside kg_catalog_enter. */
static bool
kg_video_segment_exists(int32 stream_id, TimestampTz ts)
{
	return kg_spi_exec("SELECT 1 FROM kinesis_video.segments WHERE stream_id OPERATOR(pg_catalog.=) $1 "
					   "AND range_start OPERATOR(pg_catalog.<=) $2 AND range_end OPERATOR(pg_catalog.>) $2",
					   2, (Oid[]) {INT4OID, TIMESTAMPTZOID},
					   (Datum[]) {Int32GetDatum(stream_id), TimestampTzGetDatum(ts)}, NULL, true) > 0;
}

PG_FUNCTION_INFO_V1(kg_video_put_media);

/*
 * Insert one fragment row into the fragment table qtable, as the current
 * user, with the direct-DML guard open only for this INSERT (also when it
 * fails and the caller catches the error).
 */
static void
kg_video_insert_fragment(const char *qtable, int64 fragment_number, int64 media_sequence,
						 TimestampTz producer_ts, TimestampTz server_ts, int32 length_ms, int32 size,
						 Jsonb *metadata, bytea *media)
{
	kg_video_put_depth++;
	PG_TRY();
	{
		kg_spi_exec(psprintf("INSERT INTO %s (fragment_number, media_sequence, producer_timestamp, "
							 "server_timestamp, fragment_length_in_milliseconds, fragment_size_in_bytes, "
							 "fragment_metadata, media) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", qtable),
					8, (Oid[]) {INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID, INT4OID, JSONBOID, BYTEAOID},
					(Datum[]) {Int64GetDatum(fragment_number), Int64GetDatum(media_sequence),
							   TimestampTzGetDatum(producer_ts), TimestampTzGetDatum(server_ts),
							   Int32GetDatum(length_ms), Int32GetDatum(size),
							   metadata ? JsonbPGetDatum(metadata) : (Datum) 0, PointerGetDatum(media)},
					(char[]) {' ', ' ', ' ', ' ', ' ', ' ', metadata ? ' ' : 'n', ' '}, false);
	}
	PG_FINALLY();
	{
		/* an error caught by the caller must not leave direct DML allowed */
		kg_video_put_depth--;
	}
	PG_END_TRY();
}

/*
 * kinesis_video.put_media(stream_name, media, producer_timestamp,
 *		fragment_length_in_milliseconds, fragment_metadata)
 *		RETURNS TABLE (fragment_number bigint, server_timestamp timestamptz)
 */
Datum
kg_video_put_media(PG_FUNCTION_ARGS)
{
	char	   *name;
	bytea	   *media;
	TimestampTz producer_ts;
	int32		length_ms;
	Jsonb	   *metadata = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	KgCatalogContext cc;
	int32		stream_id;
	Oid			media_table;
	char	   *qtable;
	bool		isnull;
	int64		fragment_number;
	int64		media_sequence = 1;
	TimestampTz server_ts;
	TimestampTz last_server_ts = DT_NOBEGIN;
	TimestampTz deadline;
	TupleDesc	tupdesc;
	Datum		result[2];
	bool		result_nulls[2] = {false, false};
	int64		size;

	kg_require_shmem();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: stream name, media, producer timestamp and fragment length must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	media = PG_GETARG_BYTEA_PP(1);
	producer_ts = PG_GETARG_TIMESTAMPTZ(2);
	length_ms = PG_GETARG_INT32(3);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/* the stream, and the caller's right to write to it */
	kg_catalog_enter(&cc, true);
	if (kg_spi_exec("SELECT stream_id, media_table::oid FROM kinesis_video.streams "
					"WHERE stream_name OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name)}, NULL, true) == 0)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: video stream \"%s\" does not exist", name)));
	stream_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	media_table = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	kg_catalog_exit(&cc);
	if (pg_class_aclcheck(media_table, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(KG_ACCESS_DENIED),
				 errmsg("NotAuthorizedException: permission denied to put media to video stream \"%s\"", name),
				 errhint("The stream's owner can grant it: GRANT INSERT ON %s TO role.",
						 quote_qualified_identifier("kinesis_video_media", get_rel_name(media_table)))));

	/* the KVS limits */
	size = VARSIZE_ANY_EXHDR(media);
	if (size < 1 || size > KG_VIDEO_MAX_FRAGMENT_BYTES)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: a fragment must have 1 byte to 50 MB of media"),
				 errdetail("The fragment has %lld bytes (KVS acknowledgement error 4001, maximum fragment size reached).",
						   (long long) size)));
	if (length_ms < KG_VIDEO_MIN_FRAGMENT_MS || length_ms > KG_VIDEO_MAX_FRAGMENT_MS)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: fragment length must be between %d and %d milliseconds",
						KG_VIDEO_MIN_FRAGMENT_MS, KG_VIDEO_MAX_FRAGMENT_MS),
				 errdetail("The fragment length given was %d milliseconds (KVS acknowledgement errors MIN_/MAX_FRAGMENT_DURATION_REACHED).",
						   length_ms)));
	if (TIMESTAMP_NOT_FINITE(producer_ts))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: producer timestamp must be finite"),
				 errdetail("KVS acknowledgement error 4007 (invalid producer timestamp).")));
	if (metadata)
		kg_video_check_metadata(metadata);
	PreventCommandIfReadOnly("kinesis_video.put_media()");

	/* from here on, under the stream's put lock, seeing every committed put */
	kg_video_lock_stream(stream_id);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kg_segment_wait_ms);
	for (;;)
	{
		/*
		 * Wait for the segment before touching the fragment table: the
		 * worker that creates it needs a moment without our locks on it.
		 */
		server_ts = GetCurrentTimestamp();
		kg_catalog_enter(&cc, true);
		if (kg_spi_exec("SELECT 1 FROM kinesis_video.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
						1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, true) == 0)
			ereport(ERROR,
					(errcode(KG_RESOURCE_NOT_FOUND),
					 errmsg("ResourceNotFoundException: video stream \"%s\" does not exist", name)));
		if (kg_video_segment_exists(stream_id, server_ts))
			break;
		kg_catalog_exit(&cc);
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ClientLimitExceededException: no fragment segment of video stream \"%s\" covers the current time yet", name),
					 errhint("The kinesis_glue worker creates segments ahead of need; check that it runs (kinesis_glue.workers).")));
		kg_wake_worker(MyDatabaseId);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	/*
	 * Planned and read as the extension owner: safe because the fragment
	 * table belongs to the extension owner and the DDL guard refuses every
	 * index, statistics object, trigger, rule, policy or partition a user
	 * could attach to it (ddl_guard.c), so no user code runs here.
	 */
	qtable = quote_qualified_identifier("kinesis_video_media", get_rel_name(media_table));
	if (kg_spi_exec(psprintf("SELECT producer_timestamp, server_timestamp, media_sequence FROM %s "
							 "ORDER BY server_timestamp DESC LIMIT 1", qtable),
					0, NULL, NULL, NULL, true) > 0)
	{
		TimestampTz last_producer_ts;

		last_producer_ts = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		last_server_ts = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		media_sequence = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)) + 1;
		if (producer_ts < last_producer_ts)
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: fragment producer timestamp %s is earlier than that of the previous fragment of video stream \"%s\" (%s)",
							pstrdup(timestamptz_to_str(producer_ts)), name, pstrdup(timestamptz_to_str(last_producer_ts))),
					 errdetail("KVS acknowledgement error 4004 (fragment timecode lower than previous)."),
					 errhint("Fragments of a stream must arrive in producer-time order; a fragment with the same producer timestamp as the previous one replaces it in HLS playlists.")));
	}
	/* server timestamps never go back, even if the clock does */
	if (server_ts <= last_server_ts)
	{
		server_ts = last_server_ts + 1;
		if (!kg_video_segment_exists(stream_id, server_ts))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ClientLimitExceededException: no fragment segment of video stream \"%s\" covers the current time yet", name),
					 errdetail("The system clock is behind the previous fragment's server timestamp.")));
	}
	kg_spi_exec("SELECT pg_catalog.nextval('kinesis_video.fragment_numbers')", 0, NULL, NULL, NULL, false);
	fragment_number = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	kg_catalog_exit(&cc);

	/*
	 * The row is inserted as the caller (who needs INSERT on the fragment
	 * table), never as the extension owner: the insert runs no more than
	 * the caller's rights allow.
	 */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to the SPI manager");
	/* (the name built above lived in the catalog context's SPI memory) */
	qtable = quote_qualified_identifier("kinesis_video_media", get_rel_name(media_table));
	kg_video_insert_fragment(qtable, fragment_number, media_sequence, producer_ts, server_ts, length_ms,
							 (int32) size, metadata, media);
	SPI_finish();
	kg_video_note_put(stream_id);

	result[0] = Int64GetDatum(fragment_number);
	result[1] = TimestampTzGetDatum(server_ts);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), result, result_nulls)));
}
