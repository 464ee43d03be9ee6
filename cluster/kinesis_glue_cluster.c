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

#include "catalog/pg_type.h"
#include "common/md5.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/uuid.h"

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
	if (SPI_execute_plan(plan, (Datum[]) {PointerGetDatum(stream_name)}, NULL, true, 0) != SPI_OK_SELECT)
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
			const char *err = NULL;

			if (!pg_md5_binary(b->pk[i], b->pklen[i], md5, &err))
				elog(ERROR, "could not compute MD5: %s", err ? err : "unknown error");
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
 * bytea): per node of the batch, ascending, the positions of its records
 * and its section.  What put_records sends node by node when the parallel
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

		pq_begintypsend(&buf);
		pack_section(&b, k, &buf, &ords, &nords);
		values[2] = PointerGetDatum(pq_endtypsend(&buf));
		values[0] = Int32GetDatum(b.nodes[k]);
		values[1] = int4_array(ords, nords);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* SELECT of the PL/Proxy call, prepared once per backend. */
static SPIPlanPtr split_plan = NULL;

PG_FUNCTION_INFO_V1(kc_put);

/*
 * kinesis_cluster._put(stream_name, partition_keys, data, explicit_hash_keys,
 * batch uuid) RETURNS TABLE (shard_id, sequence_number, error_code,
 * error_message): route the batch and put each node's section in one
 * parallel PL/Proxy call (kinesis_cluster._put_split), then return one row
 * per record in input order.  The sections go in one bytea, a scalar
 * argument, which PL/Proxy sends in binary (arrays it sends as text, which
 * cost a fifth of the CPU on both sides): every node of the batch receives
 * all sections and reads its own, at the offset and length given by the
 * split arrays (one element per node).  Errors: those of route_batch; any
 * error of the PL/Proxy call (kinesis_cluster.put_records catches the ones
 * that mean a node is unreachable); an answer that does not cover each
 * record once.
 */
Datum
kc_put(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext cxt = CurrentMemoryContext;
	Batch		b;
	StringInfoData buf;
	Datum	   *nd;
	Datum	   *starts;
	Datum	   *lengths;
	Datum		args[6];
	HeapTuple  *rows;
	uint64		nrows;

	if (PG_ARGISNULL(4))
		elog(ERROR, "batch id must not be null");
	route_batch(fcinfo, &b);
	nd = palloc(sizeof(Datum) * b.nnodes);
	starts = palloc(sizeof(Datum) * b.nnodes);
	lengths = palloc(sizeof(Datum) * b.nnodes);
	pq_begintypsend(&buf);
	for (int k = 0; k < b.nnodes; k++)
	{
		int			start = buf.len - VARHDRSZ;

		pack_section(&b, k, &buf, NULL, NULL);
		nd[k] = Int32GetDatum(b.nodes[k]);
		starts[k] = Int32GetDatum(start);
		lengths[k] = Int32GetDatum(buf.len - VARHDRSZ - start);
	}
	args[0] = int4_array(nd, b.nnodes);
	args[1] = PG_GETARG_DATUM(4);
	args[2] = PG_GETARG_DATUM(0);
	args[3] = PointerGetDatum(pq_endtypsend(&buf));
	args[4] = int4_array(starts, b.nnodes);
	args[5] = int4_array(lengths, b.nnodes);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (split_plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT r.ord, r.shard_index, r.sequence_number, r.error_code, r.error_message "
									"FROM kinesis_cluster._put_split($1, $2, $3, $4, $5, $6) r", 6,
									(Oid[]) {INT4ARRAYOID, UUIDOID, TEXTOID, BYTEAOID, INT4ARRAYOID, INT4ARRAYOID});

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the PL/Proxy call: %s", SPI_result_code_string(SPI_result));
		split_plan = p;
	}
	if (SPI_execute_plan(split_plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "the PL/Proxy call of put_records failed");
	nrows = SPI_processed;

	/* each record's row, copied out of SPI's memory */
	rows = MemoryContextAllocZero(cxt, sizeof(HeapTuple) * b.n);
	for (uint64 r = 0; r < nrows; r++)
	{
		bool		isnull;
		int32		ord = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));

		if (isnull || ord < 1 || ord > b.n || rows[ord - 1] != NULL)
			elog(ERROR, "a node answered put_records with an unexpected record position");
		rows[ord - 1] = SPI_copytuple(SPI_tuptable->vals[r]);
	}
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;

		InitMaterializedSRF(fcinfo, 0);
		for (int i = 0; i < b.n; i++)
		{
			Datum		v[5];
			bool		isnull[5];
			Datum		values[4];
			bool		nulls[4];

			if (rows[i] == NULL)
				elog(ERROR, "no node answered put_records for record %d", i + 1);
			heap_deform_tuple(rows[i], desc, v, isnull);
			nulls[0] = isnull[1];
			if (!isnull[1])
				values[0] = CStringGetTextDatum(psprintf("shardId-%03d%09d", b.node[i], DatumGetInt32(v[1])));
			for (int c = 1; c < 4; c++)
			{
				values[c] = v[c + 1];
				nulls[c] = isnull[c + 1];
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	SPI_finish();
	return (Datum) 0;
}
