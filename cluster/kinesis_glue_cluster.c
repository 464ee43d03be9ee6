/*-------------------------------------------------------------------------
 *
 * kinesis_glue_cluster.c
 *		The proxy side of kinesis_cluster.put_records, in C: each record's
 *		cluster hash key (MD5 of its partition key, or its explicit hash
 *		key), the node that holds it (the stream's placements first, then
 *		the nodes' home ranges) and its local hash key on that node; the
 *		records of each node packed into one section (kc_section.h); one
 *		PL/Proxy call (kinesis_cluster._put_split) that runs the sections on
 *		their nodes in parallel; the results in input order with cluster
 *		shard ids.  The node side is kinesis_glue_node.c.
 *
 * Locking: none of its own.  The placement catalog (kinesis_cluster.nodes,
 * kinesis_cluster.placements) is read with SPI in the caller's snapshot;
 * kinesis_cluster.put_records locks the placements ACCESS SHARE first (see
 * the SQL script).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/numeric.h"
#include "utils/uuid.h"

#include "common/kg_md5.h"
#include "kc_section.h"

PG_MODULE_MAGIC;

typedef unsigned __int128 u128;

#define U128_MAX (~(u128) 0)

typedef struct Range
{
	u128		start;
	u128		end;
	int32		node;
	bool		home;			/* home range: local keys stretched */
} Range;

/* Decimal text -> u128; false when not a number in [0, 2^128 - 1]. */
static bool
parse_u128(const char *s, u128 *out)
{
	u128		v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++)
	{
		if (*s < '0' || *s > '9' || v > (U128_MAX - (*s - '0')) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return true;
}

/*
 * floor(r * 2^64 / d) for r < d, with *rem the remainder; s is the count of
 * leading zero bits of d.  One step of Knuth's division (TAOCP 4.3.1,
 * algorithm D) in base 2^64 on the normalized divisor d << s: the estimate
 * from the top digits is at most 2 too large.
 */
static uint64
div_step(u128 r, u128 d, int s, u128 *rem)
{
	u128		dn = d << s;
	uint64		dh = (uint64) (dn >> 64);
	uint64		dl = (uint64) dn;
	u128		rn = r << s;	/* < dn */
	uint64		q = (uint64) (rn >> 64) >= dh ? PG_UINT64_MAX : (uint64) (rn / dh);
	u128		lo = (u128) q * dl;
	u128		phi = (u128) q * dh + (lo >> 64);	/* q * dn = phi * 2^64 + plo */
	uint64		plo = (uint64) lo;

	/* while q * dn > rn * 2^64: one less */
	while (phi > rn || (phi == rn && plo > 0))
	{
		bool		borrow = plo < dl;

		plo -= dl;
		phi -= (u128) dh + borrow;
		q--;
	}
	/* the remainder is below dn: modulo 2^128 arithmetic gives it exactly */
	*rem = (((rn - phi) << 64) - plo) >> s;
	return q;
}

/*
 * floor(x * 2^128 / size) for x < size (size 0 standing for 2^128): the
 * local key of offset x in a home range of that size.  Two digits in base
 * 2^64 (the bit-by-bit long division it replaces was a tenth of the proxy's
 * CPU with two nodes).
 */
static u128
stretch(u128 x, u128 size)
{
	int			s;
	u128		r;
	uint64		hi;

	if (size == 0)
		return x;
	s = (size >> 64) != 0 ? __builtin_clzll((uint64) (size >> 64)) : 64 + __builtin_clzll((uint64) size);
	hi = div_step(x, size, s, &r);
	return ((u128) hi << 64) | div_step(r, size, s, &r);
}

/* The placement query, prepared once per backend (the plan cache replans it when needed). */
static SPIPlanPtr plan = NULL;

/* Read the ranges of the stream: its placements (newest first), then the home ranges. */
static int
load_ranges(text *stream_name, Range **out)
{
	int			n;
	Range	   *r;
	MemoryContext cxt = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT p.starting_hash_key::pg_catalog.text, p.ending_hash_key::pg_catalog.text, p.node_id, false, "
							  "OPERATOR(pg_catalog.-) p.placement_id "
							  "FROM kinesis_cluster.placements p WHERE p.stream_name OPERATOR(pg_catalog.=) $1 "
							  "UNION ALL SELECT n.starting_hash_key::pg_catalog.text, n.ending_hash_key::pg_catalog.text, n.node_id, true, "
							  "n.node_id FROM kinesis_cluster.nodes n WHERE n.starting_hash_key IS NOT NULL "
							  "ORDER BY 4, 5", 1, (Oid[]) {TEXTOID});

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the placement query: %s", SPI_result_code_string(SPI_result));
		plan = p;
	}
	/* not read-only: a new snapshot, which sees a split committed while put_records waited */
	if (SPI_execute_plan(plan, (Datum[]) {PointerGetDatum(stream_name)}, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the placement catalog");
	n = (int) SPI_processed;
	r = MemoryContextAlloc(cxt, sizeof(Range) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		if (!parse_u128(SPI_getvalue(tup, desc, 1), &r[i].start) ||
			!parse_u128(SPI_getvalue(tup, desc, 2), &r[i].end))
			elog(ERROR, "invalid hash key range in the placement catalog");
		r[i].node = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		r[i].home = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	}
	SPI_finish();
	*out = r;
	return n;
}

/* A batch of kinesis_cluster.put_records, validated and routed. */
typedef struct Batch
{
	int			n;
	int32	   *node;			/* per record: the node that holds it */
	u128	   *key;			/* per record: its local hash key there */
	char	  **pk;				/* per record: partition key in UTF-8 */
	int		   *pklen;
	bytea	  **data;
	int			nnodes;			/* distinct nodes, ascending */
	int32	   *nodes;
} Batch;

static int
cmp_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * Check the arguments of put_records (stream_name, partition_keys, data,
 * explicit_hash_keys) and route each record.  Errors: ValidationException
 * for missing or mismatched arguments, InvalidArgumentException for an
 * explicit hash key out of range or a key no node holds, not configured.
 */
static void
route_batch(FunctionCallInfo fcinfo, Batch *b)
{
	Datum	   *pk;
	bool	   *pknull;
	Datum	   *dat;
	bool	   *datnull;
	Datum	   *ehk = NULL;
	bool	   *ehknull = NULL;
	int			nd,
				nehk = 0,
				nranges;
	Range	   *ranges;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("ValidationException: stream name, partition keys and data must not be null")));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT, &pk, &pknull, &b->n);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), BYTEAOID, -1, false, TYPALIGN_INT, &dat, &datnull, &nd);
	if (!PG_ARGISNULL(3))
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(3), NUMERICOID, -1, false, TYPALIGN_INT, &ehk, &ehknull, &nehk);
	if (b->n < 1 || b->n > 500 || nd != b->n || (ehk && nehk != b->n))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("ValidationException: put_records takes 1 to 500 records, with as many partition keys as data (and explicit hash keys, when given)")));
	for (int i = 0; i < b->n; i++)
	{
		if (pknull[i])
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("ValidationException: partition keys must not be null")));
		if (datnull[i])
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("ValidationException: data must not be null (record %d)", i + 1)));
	}

	nranges = load_ranges(PG_GETARG_TEXT_PP(0), &ranges);
	if (nranges == 0)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("kinesis_cluster is not configured"),
						errhint("Run kinesis_cluster.configure(node_names, connection_strings) as a superuser.")));

	b->node = palloc(sizeof(int32) * b->n);
	b->key = palloc(sizeof(u128) * b->n);
	b->pk = palloc(sizeof(char *) * b->n);
	b->pklen = palloc(sizeof(int) * b->n);
	b->data = palloc(sizeof(bytea *) * b->n);
	for (int i = 0; i < b->n; i++)
	{
		text	   *t = DatumGetTextPP(pk[i]);
		u128		h = 0;
		Range	   *hit = NULL;

		b->pklen[i] = VARSIZE_ANY_EXHDR(t);
		b->pk[i] = (char *) pg_do_encoding_conversion((unsigned char *) VARDATA_ANY(t), b->pklen[i],
													  GetDatabaseEncoding(), PG_UTF8);
		if (b->pk[i] != VARDATA_ANY(t))
			b->pklen[i] = strlen(b->pk[i]);
		b->data[i] = DatumGetByteaPP(dat[i]);
		if (ehk && !ehknull[i])
		{
			char	   *digits = DatumGetCString(DirectFunctionCall1(numeric_out, ehk[i]));

			if (!parse_u128(digits, &h))
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								errmsg("InvalidArgumentException: hash key %s is outside [0, 2^128 - 1]", digits)));
		}
		else
		{
			uint8		md5[16];

			/* the node hashes the key with the same code (kg_hashkey.c) */
			kg_md5((const uint8 *) b->pk[i], b->pklen[i], md5);
			for (int k = 0; k < 16; k++)
				h = (h << 8) | md5[k];
		}
		for (int r = 0; r < nranges && hit == NULL; r++)
			if (h >= ranges[r].start && h <= ranges[r].end)
				hit = &ranges[r];
		if (hit == NULL)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("InvalidArgumentException: no node holds hash key of record %d", i + 1)));
		b->node[i] = hit->node;
		b->key[i] = hit->home ? stretch(h - hit->start, hit->end - hit->start + 1) : h;
	}

	/* the distinct nodes, ascending */
	b->nodes = palloc(sizeof(int32) * b->n);
	memcpy(b->nodes, b->node, sizeof(int32) * b->n);
	qsort(b->nodes, b->n, sizeof(int32), cmp_int32);
	b->nnodes = 0;
	for (int i = 0; i < b->n; i++)
		if (b->nnodes == 0 || b->nodes[b->nnodes - 1] != b->nodes[i])
			b->nodes[b->nnodes++] = b->nodes[i];
}

/*
 * Append the section of node b->nodes[k] (kc_section.h) to buf; its records'
 * positions to *ords when asked.
 */
static void
pack_section(Batch *b, int k, StringInfo buf, Datum **ords, int *nords)
{
	int			count = 0;

	for (int i = 0; i < b->n; i++)
		count += b->node[i] == b->nodes[k];
	if (ords)
	{
		*ords = palloc(sizeof(Datum) * count);
		*nords = 0;
	}
	pq_sendint32(buf, KC_SECTION_MAGIC);
	pq_sendint32(buf, count);
	for (int i = 0; i < b->n; i++)
	{
		if (b->node[i] != b->nodes[k])
			continue;
		if (ords)
			(*ords)[(*nords)++] = Int32GetDatum(i + 1);
		pq_sendint32(buf, i + 1);
		pq_sendint64(buf, (uint64) (b->key[i] >> 64));
		pq_sendint64(buf, (uint64) b->key[i]);
		pq_sendint32(buf, b->pklen[i]);
		pq_sendbytes(buf, b->pk[i], b->pklen[i]);
		pq_sendint32(buf, VARSIZE_ANY_EXHDR(b->data[i]));
		pq_sendbytes(buf, VARDATA_ANY(b->data[i]), VARSIZE_ANY_EXHDR(b->data[i]));
	}
}

/* An int4[] of n values. */
static Datum
int4_array(Datum *values, int n)
{
	return PointerGetDatum(construct_array(values, n, INT4OID, 4, true, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(kc_pack);

/*
 * kinesis_cluster._pack(stream_name, partition_keys, data,
 * explicit_hash_keys) RETURNS TABLE (node integer, ords integer[], part
 * text): per node of the batch, ascending, the positions of its records
 * and its section in hex.  What put_records sends node by node when the parallel
 * call failed.  Errors: those of route_batch.
 */
Datum
kc_pack(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Batch		b;

	route_batch(fcinfo, &b);
	InitMaterializedSRF(fcinfo, 0);
	for (int k = 0; k < b.nnodes; k++)
	{
		Datum	   *ords;
		int			nords;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		StringInfoData buf;
		char	   *enc;
		int			len;

		initStringInfo(&buf);
		pack_section(&b, k, &buf, &ords, &nords);
		len = 2 * buf.len;
		enc = palloc(len);
		kc_hex_encode(buf.data, buf.len, enc);
		values[2] = PointerGetDatum(cstring_to_text_with_len(enc, len));
		values[0] = Int32GetDatum(b.nodes[k]);
		values[1] = int4_array(ords, nords);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* One record's answer from its node (kinesis_node.put_result without ord). */
typedef struct PutRow
{
	bool		done;
	Datum		v[4];			/* shard_index, sequence_number, error_code, error_message */
	bool		isnull[4];
} PutRow;

/* SELECT of the PL/Proxy call, prepared once per backend. */
static SPIPlanPtr split_plan = NULL;

/*
 * Put each node's section of the routed batch b in one parallel PL/Proxy
 * call (kinesis_cluster._put_split); each record's answer into rows[],
 * allocated in the current memory context.  PL/Proxy sends every argument as
 * text (arrays element by element with quoting, a bytea as two hex digits a
 * byte: per-record arrays cost a fifth of the CPU on both sides), so the
 * sections go hex-encoded, one after the other, in one text argument that
 * every node of the batch receives; a text costs a node only a copy and an
 * encoding check, and each node decodes only its own section, at the offset
 * and length given by the split arrays (one element per node, so RUN ON is
 * evaluated once a
 * node).  Errors: any error of the PL/Proxy call; an answer that does not
 * cover each record once.
 */
static PutRow *
split_put(Batch *b, Datum batch, Datum stream_name)
{
	MemoryContext cxt = CurrentMemoryContext;
	StringInfoData raw;
	StringInfoData text;
	Datum	   *nd = palloc(sizeof(Datum) * b->nnodes);
	Datum	   *starts = palloc(sizeof(Datum) * b->nnodes);
	Datum	   *lengths = palloc(sizeof(Datum) * b->nnodes);
	Datum		args[6];
	PutRow	   *rows = palloc0(sizeof(PutRow) * b->n);

	/* each section in hex, one after the other, in one text */
	initStringInfo(&raw);
	initStringInfo(&text);
	for (int k = 0; k < b->nnodes; k++)
	{
		int			len;

		resetStringInfo(&raw);
		pack_section(b, k, &raw, NULL, NULL);
		len = 2 * raw.len;
		enlargeStringInfo(&text, len);
		kc_hex_encode(raw.data, raw.len, text.data + text.len);
		nd[k] = Int32GetDatum(b->nodes[k]);
		starts[k] = Int32GetDatum(text.len);
		lengths[k] = Int32GetDatum(len);
		text.len += len;
	}
	args[0] = int4_array(nd, b->nnodes);
	args[1] = batch;
	args[2] = stream_name;
	args[3] = PointerGetDatum(cstring_to_text_with_len(text.data, text.len));
	args[4] = int4_array(starts, b->nnodes);
	args[5] = int4_array(lengths, b->nnodes);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (split_plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT r.ord, r.shard_index, r.sequence_number, r.error_code, r.error_message "
									"FROM kinesis_cluster._put_split($1, $2, $3, $4, $5, $6) r", 6,
									(Oid[]) {INT4ARRAYOID, UUIDOID, TEXTOID, TEXTOID, INT4ARRAYOID, INT4ARRAYOID});

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the PL/Proxy call: %s", SPI_result_code_string(SPI_result));
		split_plan = p;
	}
	if (SPI_execute_plan(split_plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "the PL/Proxy call of put_records failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		Datum		v[5];
		bool		isnull[5];
		PutRow	   *row;

		heap_deform_tuple(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, v, isnull);
		if (isnull[0] || DatumGetInt32(v[0]) < 1 || DatumGetInt32(v[0]) > b->n || rows[DatumGetInt32(v[0]) - 1].done)
			elog(ERROR, "a node answered put_records with an unexpected record position");
		row = &rows[DatumGetInt32(v[0]) - 1];
		row->done = true;
		for (int c = 0; c < 4; c++)
		{
			row->isnull[c] = isnull[c + 1];
			row->v[c] = isnull[c + 1] ? (Datum) 0 :
				c < 2 ? v[c + 1] : PointerGetDatum(MemoryContextAlloc(cxt, VARSIZE_ANY(v[c + 1])));
			if (c >= 2 && !isnull[c + 1])
				memcpy(DatumGetPointer(row->v[c]), DatumGetPointer(v[c + 1]), VARSIZE_ANY(v[c + 1]));
		}
	}
	SPI_finish();
	for (int i = 0; i < b->n; i++)
		if (!rows[i].done)
			elog(ERROR, "no node answered put_records for record %d", i + 1);
	return rows;
}

/*
 * Did this error of the PL/Proxy call mean that a node could not be reached
 * (kinesis_cluster._unreachable_error decides, as for the other functions)?
 */
static bool
unreachable(ErrorData *edata)
{
	bool		res;
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT kinesis_cluster._unreachable_error($1, $2)", 2,
							  (Oid[]) {TEXTOID, TEXTOID},
							  (Datum[]) {CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode)),
									  CStringGetTextDatum(edata->message ? edata->message : "")},
							  NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not classify an error of the PL/Proxy call");
	res = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return res && !isnull;
}

/* Rows of kinesis_cluster._put_resend (the node-by-node path) into the result. */
static void
put_resend(FunctionCallInfo fcinfo, Datum batch)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		args[5];
	char		nulls[5];

	for (int a = 0; a < 4; a++)
	{
		args[a] = PG_ARGISNULL(a) ? (Datum) 0 : PG_GETARG_DATUM(a);
		nulls[a] = PG_ARGISNULL(a) ? 'n' : ' ';
	}
	args[4] = batch;
	nulls[4] = ' ';
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT * FROM kinesis_cluster._put_resend($1, $2, $3, $4, $5)", 5,
							  (Oid[]) {TEXTOID, TEXTARRAYOID, BYTEAARRAYOID, NUMERICARRAYOID, UUIDOID},
							  args, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not send the parts of put_records node by node");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		Datum		v[4];
		bool		isnull[4];

		heap_deform_tuple(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, v, isnull);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, isnull);
	}
	SPI_finish();
}

PG_FUNCTION_INFO_V1(kc_put_records);

/*
 * kinesis_cluster.put_records(stream_name, partition_keys, data,
 * explicit_hash_keys) RETURNS TABLE (shard_id, sequence_number, error_code,
 * error_message): one row per record, in input order.
 *
 * Waits for a split_shard_to_node in progress first (it locks the
 * placements ACCESS EXCLUSIVE; this takes ACCESS SHARE, to the end of the
 * transaction, as a user can, so no user can hold puts back); the routing
 * query then takes a new snapshot (SPI, not read-only) that sees the split's
 * placement.  The parallel call runs in a subtransaction: when it fails
 * because a node is unreachable, kinesis_cluster._put_resend sends each
 * node's part again on its own (nodes that applied it return their stored
 * results; the unreachable node's records get InternalFailure).  Other
 * errors (validation, unknown stream, privileges) are raised.
 */
Datum
kc_put_records(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Datum		batch = DirectFunctionCall1(gen_random_uuid, (Datum) 0);
	Batch		b;
	PutRow	   *volatile rows = NULL;
	ErrorData  *volatile edata = NULL;

	LockRelationOid(get_relname_relid("placements", get_namespace_oid("kinesis_cluster", false)),
					AccessShareLock);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		route_batch(fcinfo, &b);
		rows = split_put(&b, batch, PG_GETARG_DATUM(0));
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;

	InitMaterializedSRF(fcinfo, 0);
	if (edata != NULL)
	{
		if (!unreachable(edata))
			ReThrowError(edata);
		put_resend(fcinfo, batch);
		return (Datum) 0;
	}
	for (int i = 0; i < b.n; i++)
	{
		Datum		values[4];
		bool		nulls[4];

		nulls[0] = rows[i].isnull[0];
		if (!nulls[0])
			values[0] = CStringGetTextDatum(psprintf("shardId-%03d%09d", b.node[i], DatumGetInt32(rows[i].v[0])));
		for (int c = 1; c < 4; c++)
		{
			values[c] = rows[i].v[c];
			nulls[c] = rows[i].isnull[c];
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
