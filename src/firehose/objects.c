/*-------------------------------------------------------------------------
 *
 * objects.c
 *		Writing a batch of Firehose records to a file destination (an
 *		"object") or piping it to a program, optionally gzip-compressed.
 *
 *		firehose._write_object(directory, object_key, delivery_stream_id,
 *		    file_format, columns, header, gzip, records bytea[]) -> final path
 *		firehose._pipe_to_program(command, delivery_stream_name, batch_id,
 *		    file_format, columns, header, gzip, records bytea[]) -> bigint
 *		firehose._recover_objects(delivery_stream_id, directory) -> integer
 *
 * Exactly once into files.  An object is written to a temporary name in
 * its final directory, ".<name>.<delivery stream id>.<xid>.kgtmp", and
 * fsync'd; the delivery code records it in firehose.delivered_objects in
 * the same transaction that moves the consumer's checkpoint.  Only when
 * that transaction commits is the file renamed (durably) to its final
 * name; an abort (or the abort of the subtransaction that wrote it)
 * removes it.  A crash between commit and rename leaves a temporary file
 * whose manifest row committed: _recover_objects, which the worker runs
 * when it starts, renames those and removes the temporary files of
 * transactions that did not commit.  It decides only once the writing
 * transaction has ended, and then from the manifest with a fresh snapshot,
 * so it never removes an object whose transaction committed, however old
 * the caller's snapshot.  Readers of the directory never see a partial
 * object under a final name, and no record is in two objects.
 *
 * Programs are at least once: the program has run before the transaction
 * commits, so a crash in between runs it again for the same records; the
 * batch id (first-last sequence number, in $FIREHOSE_BATCH_ID) lets it
 * recognise a repeat.
 *
 * Rights: the current user must have the privileges COPY would ask for:
 * pg_write_server_files for files, pg_execute_server_program for
 * programs (or be superuser).  The worker runs deliveries as the delivery
 * stream's owner, so the owner's rights are what count.
 *
 * Locking: none of its own.  The pending renames are backend-local and
 * belong to the current transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "firehose/firehose.h"

PG_FUNCTION_INFO_V1(kg_firehose_write_object);
PG_FUNCTION_INFO_V1(kg_firehose_pipe_to_program);
PG_FUNCTION_INFO_V1(kg_firehose_recover_objects);

#define KG_TMP_SUFFIX ".kgtmp"
#define KG_SINK_CHUNK (64 * 1024)

/* A temporary object waiting for its transaction to end. */
typedef struct KgPendingObject
{
	SubTransactionId subid;		/* the subtransaction that wrote it */
	char	   *tmp_path;
	char	   *final_path;
} KgPendingObject;

static List *pending_objects = NIL;	/* in TopMemoryContext */

/* Where the formatted lines go: a file descriptor or a pipe, maybe through gzip. */
typedef struct KgSink
{
	int			fd;				/* file, or -1 */
	FILE	   *pipe;			/* program, or NULL */
	const char *name;			/* for messages */
	bool		gzip;
	z_stream	zs;
	char	   *zbuf;
	uint64		raw_bytes;
} KgSink;

/* ERROR unless the current user holds the predefined role (or is superuser). */
static void
kg_require_role(Oid role, const char *role_name, const char *what)
{
	if (!has_privs_of_role(GetUserId(), role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("AccessDeniedException: permission denied to %s", what),
				 errdetail("Only roles with privileges of the \"%s\" role may %s.", role_name, what),
				 errhint("GRANT %s TO the delivery stream's owner.", role_name)));
}

/* ERROR unless the current user may write server files and directory is absolute. */
static void
kg_check_directory(const char *directory)
{
	kg_require_role(ROLE_PG_WRITE_SERVER_FILES, "pg_write_server_files", "write server files");
	if (!is_absolute_path(directory))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("InvalidArgumentException: destination directory \"%s\" is not an absolute path",
						directory)));
}

/* Write raw bytes to the sink's file or pipe. */
static void
kg_sink_emit(KgSink *sink, const char *data, size_t len)
{
	if (len == 0)
		return;
	if (sink->pipe != NULL)
	{
		if (fwrite(data, 1, len, sink->pipe) != len)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write to program \"%s\": %m", sink->name)));
		return;
	}
	while (len > 0)
	{
		ssize_t		n;

		errno = 0;
		n = write(sink->fd, data, len);
		if (n <= 0)
		{
			if (errno == 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write file \"%s\": %m", sink->name)));
		}
		data += n;
		len -= n;
	}
}

/* Run deflate over the input (NULL at the end) and emit what it produces. */
static void
kg_sink_deflate(KgSink *sink, const char *data, size_t len, int flush)
{
	sink->zs.next_in = (Bytef *) data;
	sink->zs.avail_in = len;
	do
	{
		int			rc;

		sink->zs.next_out = (Bytef *) sink->zbuf;
		sink->zs.avail_out = KG_SINK_CHUNK;
		rc = deflate(&sink->zs, flush);
		if (rc == Z_STREAM_ERROR)
			ereport(ERROR, (errmsg("could not compress data for \"%s\"", sink->name)));
		kg_sink_emit(sink, sink->zbuf, KG_SINK_CHUNK - sink->zs.avail_out);
	} while (sink->zs.avail_out == 0 || (flush == Z_FINISH && sink->zs.avail_in > 0));
}

static void
kg_sink_begin(KgSink *sink, bool gzip)
{
	sink->gzip = gzip;
	sink->raw_bytes = 0;
	if (!gzip)
		return;
	memset(&sink->zs, 0, sizeof(sink->zs));
	/* 15 + 16: a gzip header and trailer around the deflate stream */
	if (deflateInit2(&sink->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
					 Z_DEFAULT_STRATEGY) != Z_OK)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("could not initialise gzip compression")));
	sink->zbuf = palloc(KG_SINK_CHUNK);
}

static void
kg_sink_write(KgSink *sink, const char *data, size_t len)
{
	sink->raw_bytes += len;
	if (sink->gzip)
		kg_sink_deflate(sink, data, len, Z_NO_FLUSH);
	else
		kg_sink_emit(sink, data, len);
}

/* Flush the compressor; the zlib state is freed here or by kg_sink_abandon. */
static void
kg_sink_end(KgSink *sink)
{
	if (!sink->gzip)
		return;
	kg_sink_deflate(sink, NULL, 0, Z_FINISH);
	deflateEnd(&sink->zs);
	sink->gzip = false;
}

/* Free zlib's memory (malloc'd, not in a memory context) after an error. */
static void
kg_sink_abandon(KgSink *sink)
{
	if (sink->gzip)
		deflateEnd(&sink->zs);
	sink->gzip = false;
}

/*
 * Format the records (and the header line) into the sink.  The records
 * array must have no NULLs and every record must be writable in the format.
 */
static void
kg_sink_records(KgSink *sink, ArrayType *records, KgFileFormat format, char **columns,
				int ncolumns, bool header)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	StringInfoData buf;

	deconstruct_array(records, BYTEAOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	initStringInfo(&buf);
	if (header && ncolumns > 0 && format != KG_FORMAT_JSONLINES)
		kg_append_header(&buf, format, columns, ncolumns);
	for (int i = 0; i < n; i++)
	{
		bytea	   *r;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("InvalidArgumentException: a record must not be null")));
		r = DatumGetByteaPP(elems[i]);
		kg_append_record_line(&buf, format, columns, ncolumns, VARDATA_ANY(r), VARSIZE_ANY_EXHDR(r));
		if (buf.len >= KG_SINK_CHUNK)
		{
			kg_sink_write(sink, buf.data, buf.len);
			resetStringInfo(&buf);
		}
	}
	kg_sink_write(sink, buf.data, buf.len);
	pfree(buf.data);
}

/*
 * The whole object: compression set up, header and records formatted,
 * compression finished.  zlib's memory is freed on error too (the file or
 * pipe itself is closed by the transaction's abort).
 */
static void
kg_sink_all(KgSink *sink, bool gzip, ArrayType *records, KgFileFormat format, char **columns,
			int ncolumns, bool header)
{
	PG_TRY();
	{
		kg_sink_begin(sink, gzip);
		kg_sink_records(sink, records, format, columns, ncolumns, header);
		kg_sink_end(sink);
	}
	PG_CATCH();
	{
		kg_sink_abandon(sink);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/* mkdir -p of the directories of path below base (which must exist or be creatable). */
static void
kg_make_directories(char *path)
{
	for (char *p = path + 1; *p; p++)
	{
		if (*p != '/')
			continue;
		*p = '\0';
		if (MakePGDirectory(path) != 0 && errno != EEXIST)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create directory \"%s\": %m", path)));
		*p = '/';
	}
}

/* SQL: firehose._write_object(directory, object_key, delivery_stream_id, file_format, columns, header, gzip, records) */
Datum
kg_firehose_write_object(PG_FUNCTION_ARGS)
{
	char	   *directory = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int32		ds_id = PG_GETARG_INT32(2);
	KgFileFormat format = kg_file_format_from_name(text_to_cstring(PG_GETARG_TEXT_PP(3)));
	int			ncolumns;
	char	  **columns = kg_column_names(PG_ARGISNULL(4) ? NULL : PG_GETARG_ARRAYTYPE_P(4), &ncolumns);
	bool		header = PG_GETARG_BOOL(5);
	bool		gzip = PG_GETARG_BOOL(6);
	ArrayType  *records = PG_GETARG_ARRAYTYPE_P(7);
	char	   *final_path;
	char	   *tmp_path;
	char	   *slash;
	KgSink		sink = {0};
	KgPendingObject *po;
	MemoryContext old;

	kg_check_directory(directory);
	if (IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot write firehose objects in a parallel operation")));

	final_path = psprintf("%s/%s", directory, key);
	canonicalize_path(final_path);
	slash = strrchr(final_path, '/');
	tmp_path = psprintf("%.*s/.%s.%d." UINT64_FORMAT KG_TMP_SUFFIX,
						(int) (slash - final_path), final_path, slash + 1, ds_id,
						U64FromFullTransactionId(GetTopFullTransactionId()));
	kg_make_directories(tmp_path);

	sink.name = tmp_path;
	sink.fd = OpenTransientFile(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (sink.fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmp_path)));

	/* registered before writing, so that an error below removes the file */
	old = MemoryContextSwitchTo(TopMemoryContext);
	po = palloc(sizeof(KgPendingObject));
	po->subid = GetCurrentSubTransactionId();
	po->tmp_path = pstrdup(tmp_path);
	po->final_path = pstrdup(final_path);
	pending_objects = lappend(pending_objects, po);
	MemoryContextSwitchTo(old);

	kg_sink_all(&sink, gzip, records, format, columns, ncolumns, header);

	if (pg_fsync(sink.fd) != 0)
		ereport(data_sync_elevel(ERROR),
				(errcode_for_file_access(),
				 errmsg("could not fsync file \"%s\": %m", tmp_path)));
	if (CloseTransientFile(sink.fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", tmp_path)));
	PG_RETURN_TEXT_P(cstring_to_text(final_path));
}

/* SQL: firehose._pipe_to_program(command, delivery_stream_name, batch_id, file_format, columns, header, gzip, records) */
Datum
kg_firehose_pipe_to_program(PG_FUNCTION_ARGS)
{
	char	   *command = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *ds_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *batch_id = text_to_cstring(PG_GETARG_TEXT_PP(2));
	KgFileFormat format = kg_file_format_from_name(text_to_cstring(PG_GETARG_TEXT_PP(3)));
	int			ncolumns;
	char	  **columns = kg_column_names(PG_ARGISNULL(4) ? NULL : PG_GETARG_ARRAYTYPE_P(4), &ncolumns);
	bool		header = PG_GETARG_BOOL(5);
	bool		gzip = PG_GETARG_BOOL(6);
	ArrayType  *records = PG_GETARG_ARRAYTYPE_P(7);
	KgSink		sink = {0};
	int			rc;

	kg_require_role(ROLE_PG_EXECUTE_SERVER_PROGRAM, "pg_execute_server_program", "execute server programs");
	if (IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot run programs in a parallel operation")));

	/* the program's environment tells it which batch this is */
	if (setenv("FIREHOSE_DELIVERY_STREAM", ds_name, 1) != 0 ||
		setenv("FIREHOSE_BATCH_ID", batch_id, 1) != 0)
		ereport(ERROR, (errmsg("could not set the program's environment: %m")));
	fflush(NULL);
	sink.fd = -1;
	sink.name = command;
	sink.pipe = OpenPipeStream(command, PG_BINARY_W);
	unsetenv("FIREHOSE_DELIVERY_STREAM");
	unsetenv("FIREHOSE_BATCH_ID");
	if (sink.pipe == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not execute command \"%s\": %m", command)));
	kg_sink_all(&sink, gzip, records, format, columns, ncolumns, header);	/* the pipe is closed at abort */

	rc = ClosePipeStream(sink.pipe);
	if (rc == -1)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close pipe to external command: %m")));
	if (rc != 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("program \"%s\" failed: %s", command, wait_result_to_str(rc))));
	PG_RETURN_INT64((int64) sink.raw_bytes);
}

/*
 * Was tmp (a name ".<final>.<ds_id>.<fxid>.kgtmp" in dir) written by
 * delivery stream ds_id?  Sets *final and *fxid when it was.
 */
static bool
kg_parse_tmp_name(const char *dir, const char *tmp, int32 ds_id, char **final, uint64 *fxid)
{
	int			len = strlen(tmp);
	int			suffix = strlen(KG_TMP_SUFFIX);
	char	   *copy;
	char	   *dot;
	char	   *end;

	if (tmp[0] != '.' || len <= suffix + 1 || strcmp(tmp + len - suffix, KG_TMP_SUFFIX) != 0)
		return false;
	copy = pnstrdup(tmp + 1, len - suffix - 1);
	dot = strrchr(copy, '.');
	if (dot == NULL)
		return false;
	*fxid = strtou64(dot + 1, &end, 10);
	if (*end != '\0' || end == dot + 1)
		return false;
	*dot = '\0';
	dot = strrchr(copy, '.');
	if (dot == NULL || strtol(dot + 1, &end, 10) != ds_id || *end != '\0')
		return false;
	*dot = '\0';
	*final = psprintf("%s/%s", dir, copy);
	return true;
}

/* Recover the temporary objects of ds_id under dir (recursively); returns files acted on. */
static int
kg_recover_directory(const char *dir, int32 ds_id)
{
	DIR		   *d = AllocateDir(dir);
	struct dirent *de;
	int			acted = 0;

	if (d == NULL && errno == ENOENT)
		return 0;
	while ((de = ReadDirExtended(d, dir, WARNING)) != NULL)
	{
		char	   *path;
		char	   *final;
		uint64		fxid;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		path = psprintf("%s/%s", dir, de->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			acted += kg_recover_directory(path, ds_id);
		else if (S_ISREG(st.st_mode) && kg_parse_tmp_name(dir, de->d_name, ds_id, &final, &fxid))
		{
			FullTransactionId f = FullTransactionIdFromU64(fxid);
			char		xid_text[32];
			bool		committed;
			Snapshot	snap;

			/*
			 * A transaction id at or past the next one was lost in a crash
			 * before its commit record reached the WAL: not committed.  One
			 * still running is left alone.
			 */
			if (FullTransactionIdPrecedes(f, ReadNextFullTransactionId()) &&
				TransactionIdIsInProgress(XidFromFullTransactionId(f)))
				continue;

			/*
			 * The writer has ended: decide from the manifest with a snapshot
			 * taken now, not the caller's, which may predate the writer's
			 * commit (a statement started while the delivery ran, or a
			 * REPEATABLE READ transaction) and would not show its row.
			 */
			snprintf(xid_text, sizeof(xid_text), UINT64_FORMAT, fxid);
			snap = RegisterSnapshot(GetLatestSnapshot());
			PushActiveSnapshot(snap);
			committed = SPI_execute_with_args(
											  "SELECT 1 FROM firehose.delivered_objects "
											  "WHERE delivery_stream_id = $1 AND object_path = $2 AND writer_xid = $3::pg_catalog.xid8",
											  3, (Oid[]) {INT4OID, TEXTOID, TEXTOID},
											  (Datum[]) {Int32GetDatum(ds_id), CStringGetTextDatum(final),
												  CStringGetTextDatum(xid_text)},
											  NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1;
			PopActiveSnapshot();
			UnregisterSnapshot(snap);
			if (committed)
			{
				if (durable_rename(path, final, WARNING) == 0)
				{
					ereport(LOG, (errmsg("kinesis_glue: renamed committed firehose object \"%s\"", final)));
					acted++;
				}
			}
			else if (unlink(path) == 0)
			{
				ereport(LOG, (errmsg("kinesis_glue: removed uncommitted firehose object \"%s\"", path)));
				acted++;
			}
		}
	}
	FreeDir(d);
	return acted;
}

/* SQL: firehose._recover_objects(delivery_stream_id integer, directory text) */
Datum
kg_firehose_recover_objects(PG_FUNCTION_ARGS)
{
	int32		ds_id = PG_GETARG_INT32(0);
	char	   *directory = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int			acted;

	kg_check_directory(directory);
	canonicalize_path(directory);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to the SPI manager");
	acted = kg_recover_directory(directory, ds_id);
	SPI_finish();
	PG_RETURN_INT32(acted);
}

/* Rename (commit) or remove (abort) the pending objects of subid (all when InvalidSubTransactionId). */
static void
kg_finish_pending(bool commit, SubTransactionId subid)
{
	ListCell   *lc;

	foreach(lc, pending_objects)
	{
		KgPendingObject *po = lfirst(lc);

		if (subid != InvalidSubTransactionId && po->subid != subid)
			continue;
		if (commit)
		{
			struct stat st;

			/*
			 * After commit an ERROR is no option: the worker's recovery
			 * retries.  A recovery running right now may also have renamed
			 * it already (it sees this transaction ended before this
			 * callback runs): then the object is in place.
			 */
			if (durable_rename(po->tmp_path, po->final_path, LOG) != 0 &&
				!(stat(po->tmp_path, &st) != 0 && stat(po->final_path, &st) == 0))
				ereport(WARNING,
						(errmsg("kinesis_glue: firehose object \"%s\" stays under its temporary name",
								po->final_path),
						 errhint("The database's kinesis_glue worker renames it when it next starts.")));
		}
		else if (unlink(po->tmp_path) != 0 && errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", po->tmp_path)));
		pfree(po->tmp_path);
		pfree(po->final_path);
		pfree(po);
		pending_objects = foreach_delete_current(pending_objects, lc);
	}
}

static void
kg_objects_xact_callback(XactEvent event, void *arg)
{
	if (pending_objects == NIL)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot PREPARE a transaction that delivered firehose objects")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			kg_finish_pending(true, InvalidSubTransactionId);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			kg_finish_pending(false, InvalidSubTransactionId);
			break;
		default:
			break;
	}
}

static void
kg_objects_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event == SUBXACT_EVENT_ABORT_SUB)
		kg_finish_pending(false, mySubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending_objects)
		{
			KgPendingObject *po = lfirst(lc);

			if (po->subid == mySubid)
				po->subid = parentSubid;
		}
	}
}

/* Register the transaction callbacks in this backend (from _PG_init). */
void
kg_firehose_init_backend(void)
{
	RegisterXactCallback(kg_objects_xact_callback, NULL);
	RegisterSubXactCallback(kg_objects_subxact_callback, NULL);
}
