/*-------------------------------------------------------------------------
 *
 * kinesis_glue_node.c
 *		The node side of kinesis_cluster.put_records, in C:
 *		kinesis_node.put_records reads the sections the proxy sent
 *		(kc_section.h) and puts their records through kinesis_glue's own put
 *		path (kg_put, the C function behind kinesis.put_records, looked up in
 *		kinesis_glue's library, which the node preloads), with the local hash
 *		keys as explicit keys: no PL/pgSQL, no composite array, no numeric.
 *		The two libraries are built from the same tree and installed
 *		together, so kg_put's arguments (streams/put.h) are the same here.
 *
 *		The batch memo keeps retries safe: a batch already applied for this
 *		login returns its stored results instead of putting again.  Users
 *		cannot read or write kinesis_node.put_batches: this library inserts
 *		its rows directly (heap and indexes), the SECURITY DEFINER functions
 *		kinesis_node._batch_results and _batch_forget (pinned search_path)
 *		read and clean it.  The put itself runs as the calling role: kg_put
 *		checks its INSERT right on the stream.
 *
 * Locking: that of kg_put (put.c); RowExclusiveLock on
 * kinesis_node.put_batches.  The memo row is inserted in the put's
 * transaction; its primary key makes a second, concurrent call of the same
 * batch fail instead of putting twice.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "common/kg_errors.h"
#include "streams/put.h"

#include "kc_section.h"

PG_MODULE_MAGIC;

typedef void (*kg_put_fn) (const char *stream_name, KgPutInput *in, int n, KgPutResult *out,
						   int64 sequence_number_for_ordering);

static kg_put_fn put_fn = NULL;
static SPIPlanPtr results_plan = NULL;
static SPIPlanPtr forget_plan = NULL;

/* A plan kept for the backend's life (SPI connected). */
static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

	if (p == NULL || SPI_keepplan(p) != 0)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	return p;
}

/*
 * Read the records of the sections in sections (a text: hex sections one
 * after the other) that start at character starts[i] and are lengths[i]
 * characters long into in[] and ords[] (palloc'd, *n records).  Only these
 * slices are decoded.  Partition keys arrive in UTF-8 and are converted to
 * the database encoding.  Errors: a slice outside the text or not hex, a
 * section of another format or cut short (ERRCODE_PROTOCOL_VIOLATION, from
 * pqformat), more than 500 records.
 */
static void
read_sections(text *sections, ArrayType *starts, ArrayType *lengths, KgPutInput **in, int32 **ords, int *n)
{
	Datum	   *st,
			   *ln;
	bool	   *stnull,
			   *lnnull;
	int			nst,
				nln;
	int			size = VARSIZE_ANY_EXHDR(sections);
	int			total = 0;

	deconstruct_array(starts, INT4OID, 4, true, TYPALIGN_INT, &st, &stnull, &nst);
	deconstruct_array(lengths, INT4OID, 4, true, TYPALIGN_INT, &ln, &lnnull, &nln);
	if (nst != nln)
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: as many section starts as lengths")));
	*in = palloc0(sizeof(KgPutInput) * 500);
	*ords = palloc(sizeof(int32) * 500);
	for (int p = 0; p < nst; p++)
	{
		StringInfoData buf;
		int			start = stnull[p] ? -1 : DatumGetInt32(st[p]);
		int			len = lnnull[p] ? -1 : DatumGetInt32(ln[p]);
		int			count;

		if (start < 0 || len < 0 || len > size - start)
			ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
							errmsg("ValidationException: section %d of a cluster batch lies outside the text", p + 1)));
		buf.data = palloc(len / 2 + 1);
		if (!kc_hex_decode(VARDATA_ANY(sections) + start, len, buf.data))
			ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
							errmsg("ValidationException: section %d of a cluster batch is not hex", p + 1)));
		buf.len = len / 2;
		buf.maxlen = buf.len + 1;
		buf.cursor = 0;
		len = buf.len;
		if (len < 8 || pq_getmsgint(&buf, 4) != KC_SECTION_MAGIC)
			ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
							errmsg("ValidationException: not a section of a kinesis_cluster batch"),
							errhint("Install the same version of kinesis_glue_cluster on the proxy and on the nodes.")));
		count = pq_getmsgint(&buf, 4);
		if (count < 0 || count > 500 - total)
			ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
							errmsg("InvalidArgumentException: records must contain at most 500 records")));
		for (int i = 0; i < count; i++)
		{
			KgPutInput *r = &(*in)[total];
			uint64		hi;
			const char *bytes;

			(*ords)[total] = pq_getmsgint(&buf, 4);
			hi = pq_getmsgint64(&buf);
			r->ehk = ((uint128) hi << 64) | (uint64) pq_getmsgint64(&buf);
			r->ehk_given = r->ehk_ok = true;
			len = pq_getmsgint(&buf, 4);
			bytes = pq_getmsgbytes(&buf, len);
			r->pk = pg_any_to_server(bytes, len, PG_UTF8);
			r->pklen = r->pk == bytes ? len : strlen(r->pk);
			len = pq_getmsgint(&buf, 4);
			bytes = pq_getmsgbytes(&buf, len);
			r->data = palloc(VARHDRSZ + len);
			SET_VARSIZE(r->data, VARHDRSZ + len);
			memcpy(VARDATA(r->data), bytes, len);
			total++;
		}
		pq_getmsgend(&buf);
	}
	*n = total;
}

/*
 * The stored results of this batch for this login into out[] (n records),
 * or false when it has not been applied.  Error: stored with another count.
 */
static bool
stored_results(Datum batch, KgPutResult *out, int n)
{
	bool		found = false;
	bool		isnull;
	Datum		d;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (results_plan == NULL)
		results_plan = keep_plan("SELECT r.shard_indexes, r.sequence_numbers FROM kinesis_node._batch_results($1) r",
								 1, (Oid[]) {UUIDOID});
	if (SPI_execute_plan(results_plan, &batch, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the batch memo");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		Datum	   *idx,
				   *seq;
		bool	   *idxnull,
				   *seqnull;
		int			ni,
					ns;

		deconstruct_array(DatumGetArrayTypeP(d), INT4OID, 4, true, TYPALIGN_INT, &idx, &idxnull, &ni);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		deconstruct_array(DatumGetArrayTypeP(d), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &seq, &seqnull, &ns);
		if (ni != n || ns != n)
			ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
							errmsg("InvalidArgumentException: batch %s was applied with %d records, not %d",
								   DatumGetCString(DirectFunctionCall1(uuid_out, batch)), ni, n)));
		for (int i = 0; i < n; i++)
		{
			out[i].shard_index = DatumGetInt32(idx[i]);
			out[i].throttled = seqnull[i];
			out[i].sequence_number = seqnull[i] ? 0 : DatumGetInt64(seq[i]);
		}
		found = true;
	}
	SPI_finish();
	return found;
}

/*
 * Store the results of this batch for this login (session_user, as
 * kinesis_node._batch_results reads them) in kinesis_node.put_batches, in the
 * put's transaction: a direct heap and index insert (through SPI and a
 * SECURITY DEFINER PL/pgSQL function it cost a node 8% of its CPU).  Users
 * cannot write the table; this function is the one writer of new rows.  The
 * primary key makes a batch id already stored fail.  Once a minute at most
 * per backend, first forget the batches older than an hour
 * (kinesis_node._batch_forget).
 */
static void
remember_results(Datum batch, KgPutResult *out, int n)
{
	static TimestampTz last_forget = 0;
	Datum	   *idx = palloc(sizeof(Datum) * n);
	Datum	   *seq = palloc(sizeof(Datum) * n);
	bool	   *seqnull = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	NameData	login;
	TimestampTz now = GetCurrentTimestamp();
	Relation	rel;

	if (now - last_forget >= 60 * USECS_PER_SEC)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (forget_plan == NULL)
			forget_plan = keep_plan("SELECT kinesis_node._batch_forget()", 0, NULL);
		if (SPI_execute_plan(forget_plan, NULL, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not clean the batch memo");
		SPI_finish();
		last_forget = now;
	}

	for (int i = 0; i < n; i++)
	{
		idx[i] = Int32GetDatum(out[i].shard_index);
		seq[i] = Int64GetDatum(out[i].sequence_number);
		seqnull[i] = out[i].throttled;
	}
	namestrcpy(&login, GetUserNameFromId(GetSessionUserId(), false));
	values[0] = batch;
	values[1] = NameGetDatum(&login);
	values[2] = PointerGetDatum(construct_array(idx, n, INT4OID, 4, true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_md_array(seq, seqnull, 1, dims, lbs, INT8OID, 8, FLOAT8PASSBYVAL,
												   TYPALIGN_DOUBLE));
	values[4] = TimestampTzGetDatum(now);
	rel = table_open(get_relname_relid("put_batches", get_namespace_oid("kinesis_node", false)),
					 RowExclusiveLock);
	if (RelationGetDescr(rel)->natts != 5)
		elog(ERROR, "kinesis_node.put_batches does not have the columns this library writes");
	CatalogTupleInsert(rel, heap_form_tuple(RelationGetDescr(rel), values, nulls));
	table_close(rel, RowExclusiveLock);
}

PG_FUNCTION_INFO_V1(kc_node_put_records);

/*
 * kinesis_node.put_records(batch uuid, stream_name text, resend boolean,
 * sections text, starts integer[], lengths integer[]) RETURNS SETOF
 * kinesis_node.put_result: the node's part of a cluster put_records (the
 * sections of sections at starts with lengths), in its own (autocommit)
 * transaction, as the connecting role.  One row per record, in section
 * order: its position in the caller's batch, the local shard index and
 * sequence number, or (throttled) NULL and
 * ProvisionedThroughputExceededException.  When resend is true (the proxy
 * sends a part again) and the batch was already applied for this login, the
 * stored results come back and nothing is put; the first send skips that
 * look-up (a batch id sent twice as first send fails on the memo's primary
 * key instead of putting twice).  Errors: those of read_sections and of
 * kinesis.put_records (unknown stream, validation, privileges), a batch id
 * applied with another count.
 */
Datum
kc_node_put_records(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KgPutInput *in;
	KgPutResult *out;
	int32	   *ords;
	int			n;
	char	   *stream_name;

	for (int a = 0; a < 6; a++)
		if (PG_ARGISNULL(a))
			ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
							errmsg("ValidationException: batch, stream name, resend and sections must not be null")));
	stream_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	read_sections(PG_GETARG_TEXT_PP(3), PG_GETARG_ARRAYTYPE_P(4), PG_GETARG_ARRAYTYPE_P(5), &in, &ords, &n);
	out = palloc0(sizeof(KgPutResult) * Max(n, 1));

	if (!PG_GETARG_BOOL(2) || !stored_results(PG_GETARG_DATUM(0), out, n))
	{
		if (put_fn == NULL)
			put_fn = (kg_put_fn) load_external_function("$libdir/kinesis_glue", "kg_put", true, NULL);
		put_fn(stream_name, in, n, out, -2);
		remember_results(PG_GETARG_DATUM(0), out, n);
	}

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < n; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, true, true};

		values[0] = Int32GetDatum(ords[i]);
		values[1] = Int32GetDatum(out[i].shard_index);
		values[2] = Int64GetDatum(out[i].sequence_number);
		if (out[i].throttled)
		{
			nulls[1] = nulls[2] = true;
			nulls[3] = nulls[4] = false;
			values[3] = CStringGetTextDatum("ProvisionedThroughputExceededException");
			values[4] = CStringGetTextDatum(psprintf("Rate exceeded for shard shardId-%012d in stream %s.",
													 out[i].shard_index, stream_name));
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
