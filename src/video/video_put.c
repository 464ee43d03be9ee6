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
 * The media is never copied here: the argument goes to the INSERT as it
 * came (a toast pointer stays one; an in-memory value goes as an indirect
 * toast pointer to it), so forming the row for the direct-DML trigger and
 * for heap_insert copies a pointer, and the one copy of the bytes is the
 * one the INSERT makes into the segment's TOAST table, as a plain INSERT
 * of the same value does.  The statements are prepared once per backend
 * and kept (SPI_keepplan): the catalog ones (planned and run as the
 * extension owner with search_path pinned, kg_catalog_enter), and per
 * fragment table the previous-fragment query (as the extension owner) and
 * the INSERT (planned and run as the caller; the executor checks the
 * caller's INSERT right at every run).  The plan cache replans when a
 * table, its partitions or the caller's search_path change.
 *
 * Locking: the stream's put lock (ExclusiveLock on the object
 * (kinesis_video.streams, stream_id)) for the rest of the transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
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

/*
 * put_media's kept plans.  The catalog statements are the same for every
 * stream; a fragment table's two are kept per table, under the table's
 * name when they were made (a stream deleted and created again under the
 * same name has a new table; should its OID be reused under another name,
 * the plans are made again).
 */
static SPIPlanPtr kg_video_stream_plan;
static SPIPlanPtr kg_video_exists_plan;
static SPIPlanPtr kg_video_segment_plan;
static SPIPlanPtr kg_video_nextval_plan;
static SPIPlanPtr kg_video_processors_plan;

typedef struct KgVideoTablePlans
{
	Oid			media_table;	/* hash key */
	NameData	relname;		/* the table's name when the plans were made */
	SPIPlanPtr	last;			/* the previous fragment (extension owner) */
	SPIPlanPtr	insert;			/* the INSERT of a fragment (caller) */
} KgVideoTablePlans;

static HTAB *kg_video_table_plans;

/*
 * Run the plan kept in *plan, preparing sql (with nargs arguments of types
 * argtypes) first if there is none yet; returns SPI_processed.  Caller is
 * connected to SPI, as the role the statement must be planned and run as.
 */
static int
kg_video_run_kept(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
				  Datum *values, const char *nulls, bool read_only)
{
	int			rc;

	if (*plan == NULL)
	{
		/*
		 * Generic plans only: a custom plan would turn the parameters into
		 * constants, and makeConst detoasts a varlena (a copy of the media
		 * per put); none of these statements plans better for a value.
		 */
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
			elog(ERROR, "could not prepare kinesis_glue internal query (%s): %s",
				 SPI_result_code_string(SPI_result), sql);
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "could not keep the plan of kinesis_glue internal query: %s", sql);
		*plan = p;
	}
	rc = SPI_execute_plan(*plan, values, nulls, read_only, 0);
	if (rc < 0)
		elog(ERROR, "kinesis_glue internal query failed (%d): %s", rc,
			 sql ? sql : "(kept plan)");
	return (int) SPI_processed;
}

/*
 * The kept plans of fragment table media_table (an entry without plans the
 * first time, or when the table's name changed since they were made).
 */
static KgVideoTablePlans *
kg_video_table_plans_for(Oid media_table)
{
	KgVideoTablePlans *tp;
	char	   *relname = get_rel_name(media_table);
	bool		found;

	if (relname == NULL)
		elog(ERROR, "fragment table %u of a video stream does not exist", media_table);
	if (kg_video_table_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(KgVideoTablePlans);
		kg_video_table_plans = hash_create("kinesis_glue put_media plans", 16, &ctl,
										   HASH_ELEM | HASH_BLOBS);
	}
	tp = hash_search(kg_video_table_plans, &media_table, HASH_ENTER, &found);
	if (found && strcmp(NameStr(tp->relname), relname) != 0)
	{
		if (tp->last)
			SPI_freeplan(tp->last);
		if (tp->insert)
			SPI_freeplan(tp->insert);
		found = false;
	}
	if (!found)
	{
		namestrcpy(&tp->relname, relname);
		tp->last = NULL;
		tp->insert = NULL;
	}
	return tp;
}

/* The quoted, qualified name of the fragment table of tp. */
static char *
kg_video_qtable(KgVideoTablePlans *tp)
{
	return quote_qualified_identifier("kinesis_video_media", NameStr(tp->relname));
}

/* Does a segment of the stream cover ts?  Caller is inside kg_catalog_enter. */
static bool
kg_video_segment_exists(int32 stream_id, TimestampTz ts)
{
	return kg_video_run_kept(&kg_video_segment_plan,
							 "SELECT 1 FROM kinesis_video.segments WHERE stream_id OPERATOR(pg_catalog.=) $1 "
							 "AND range_start OPERATOR(pg_catalog.<=) $2 AND range_end OPERATOR(pg_catalog.>) $2",
							 2, (Oid[]) {INT4OID, TIMESTAMPTZOID},
							 (Datum[]) {Int32GetDatum(stream_id), TimestampTzGetDatum(ts)}, NULL, true) > 0;
}

/*
 * media as a datum the INSERT stores without copying it first: a value
 * that is already a toast pointer as it is, an in-memory one behind an
 * indirect toast pointer (palloc'd in the current context, which must
 * outlive the INSERT).  The INSERT's TOAST step reads through it.
 */
static Datum
kg_video_media_ref(Datum media)
{
	struct varlena *value = (struct varlena *) DatumGetPointer(media);
	struct varatt_indirect redirect;
	struct varlena *ref;

	if (VARATT_IS_EXTERNAL(value))
		return media;
	redirect.pointer = value;
	ref = (struct varlena *) palloc(INDIRECT_POINTER_SIZE);
	SET_VARTAG_EXTERNAL(ref, VARTAG_INDIRECT);
	memcpy(VARDATA_EXTERNAL(ref), &redirect, sizeof(redirect));
	return PointerGetDatum(ref);
}

PG_FUNCTION_INFO_V1(kg_video_put_media);

/*
 * Insert one fragment row into the fragment table of tp, as the current
 * user, with the direct-DML guard open only for this INSERT (also when it
 * fails and the caller catches the error).  Caller is connected to SPI.
 */
static void
kg_video_insert_fragment(KgVideoTablePlans *tp, int64 fragment_number, int64 media_sequence,
						 TimestampTz producer_ts, TimestampTz server_ts, int32 length_ms, int32 size,
						 Jsonb *metadata, Datum media)
{
	char	   *sql = tp->insert ? NULL :
		psprintf("INSERT INTO %s (fragment_number, media_sequence, producer_timestamp, "
				 "server_timestamp, fragment_length_in_milliseconds, fragment_size_in_bytes, "
				 "fragment_metadata, media) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", kg_video_qtable(tp));

	kg_video_put_depth++;
	PG_TRY();
	{
		kg_video_run_kept(&tp->insert, sql,
						  8, (Oid[]) {INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID, INT4OID, JSONBOID, BYTEAOID},
						  (Datum[]) {Int64GetDatum(fragment_number), Int64GetDatum(media_sequence),
									 TimestampTzGetDatum(producer_ts), TimestampTzGetDatum(server_ts),
									 Int32GetDatum(length_ms), Int32GetDatum(size),
									 metadata ? JsonbPGetDatum(metadata) : (Datum) 0, media},
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
	Datum		media;
	TimestampTz producer_ts;
	int32		length_ms;
	Jsonb	   *metadata = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	KgCatalogContext cc;
	int32		stream_id;
	Oid			media_table;
	KgVideoTablePlans *tp;
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
	bool		wake_worker;

	kg_require_shmem();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: stream name, media, producer timestamp and fragment length must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	media = PG_GETARG_DATUM(1);
	producer_ts = PG_GETARG_TIMESTAMPTZ(2);
	length_ms = PG_GETARG_INT32(3);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/* the stream, and the caller's right to write to it */
	kg_catalog_enter(&cc, true);
	if (kg_video_run_kept(&kg_video_stream_plan,
						  "SELECT stream_id, media_table::oid FROM kinesis_video.streams "
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

	/* the KVS limits (the size without reading the media) */
	size = (int64) toast_raw_datum_size(media) - VARHDRSZ;
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
		if (kg_video_run_kept(&kg_video_exists_plan,
							  "SELECT 1 FROM kinesis_video.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
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
	tp = kg_video_table_plans_for(media_table);
	if (kg_video_run_kept(&tp->last,
						  tp->last ? NULL :
						  psprintf("SELECT producer_timestamp, server_timestamp, media_sequence FROM %s "
								   "ORDER BY server_timestamp DESC LIMIT 1", kg_video_qtable(tp)),
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
	kg_video_run_kept(&kg_video_nextval_plan, "SELECT pg_catalog.nextval('kinesis_video.fragment_numbers')",
					  0, NULL, NULL, NULL, false);
	fragment_number = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	/* the worker is woken at commit only for a running stream processor */
	wake_worker = kg_video_run_kept(&kg_video_processors_plan,
									"SELECT 1 FROM kinesis_video.stream_processors "
									"WHERE stream_id OPERATOR(pg_catalog.=) $1 "
									"AND status OPERATOR(pg_catalog.=) 'RUNNING' LIMIT 1",
									1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)},
									NULL, true) > 0;
	kg_catalog_exit(&cc);

	/*
	 * The row is inserted as the caller (who needs INSERT on the fragment
	 * table), never as the extension owner: the insert runs no more than
	 * the caller's rights allow.
	 */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to the SPI manager");
	kg_video_insert_fragment(tp, fragment_number, media_sequence, producer_ts, server_ts, length_ms,
							 (int32) size, metadata, kg_video_media_ref(media));
	SPI_finish();
	kg_video_note_put(stream_id, wake_worker);

	result[0] = Int64GetDatum(fragment_number);
	result[1] = TimestampTzGetDatum(server_ts);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), result, result_nulls)));
}
