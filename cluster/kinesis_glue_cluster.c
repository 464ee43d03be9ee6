/*-------------------------------------------------------------------------
 *
 * kinesis_glue_cluster.c
 *		The per-record routing of kinesis_cluster.put_records, in C: each
 *		record's cluster hash key (MD5 of its partition key, or its explicit
 *		hash key), the node that holds it (the stream's placements first, then
 *		the nodes' home ranges) and its local hash key on that node, for a
 *		whole batch in one call.  The SQL version computed MD5 hash keys and
 *		the stretching in numeric, which cost most of the proxy's CPU.
 *
 * Locking: none of its own.  The placement catalog (kinesis_cluster.nodes,
 * kinesis_cluster.placements) is read with SPI in the caller's snapshot;
 * put_records takes the stream's advisory lock first (see the SQL script).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/md5.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

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

static Datum
u128_numeric(u128 v)
{
	char		buf[41];
	int			i = sizeof(buf) - 1;

	buf[i] = '\0';
	do
	{
		buf[--i] = '0' + (int) (v % 10);
		v /= 10;
	} while (v > 0);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(&buf[i]), ObjectIdGetDatum(InvalidOid),
							   Int32GetDatum(-1));
}

/*
 * floor(x * 2^128 / size) for x < size (size 0 standing for 2^128): the
 * local key of offset x in a home range of that size.  Long division, one
 * bit at a time.
 */
static u128
stretch(u128 x, u128 size)
{
	u128		q = 0;
	u128		r = x;

	if (size == 0)
		return x;
	for (int i = 0; i < 128; i++)
	{
		bool		carry = (r >> 127) != 0;

		r <<= 1;
		q <<= 1;
		if (carry || r >= size)
		{
			r -= size;
			q |= 1;
		}
	}
	return q;
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

PG_FUNCTION_INFO_V1(kc_route);

/*
 * kinesis_cluster._route(stream_name, partition_keys, explicit_hash_keys,
 * OUT nodes integer[], OUT local_keys numeric[]): for each record, the node
 * that holds its hash key for this stream and the hash key to put there.
 * The newest placement covering a key wins (load_ranges reads them newest
 * first, before the home ranges).  Errors:
 * not configured, an explicit hash key out of range.
 */
Datum
kc_route(PG_FUNCTION_ARGS)
{
	ArrayType  *pks;
	ArrayType  *ehks = PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2);
	Datum	   *pk;
	bool	   *pknull;
	Datum	   *ehk = NULL;
	bool	   *ehknull = NULL;
	int			n,
				nehk = 0,
				nranges;
	Range	   *ranges;
	Datum	   *nodes;
	Datum	   *locals;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("ValidationException: stream name and partition keys must not be null")));
	pks = PG_GETARG_ARRAYTYPE_P(1);
	deconstruct_array(pks, TEXTOID, -1, false, TYPALIGN_INT, &pk, &pknull, &n);
	if (ehks)
		deconstruct_array(ehks, NUMERICOID, -1, false, TYPALIGN_INT, &ehk, &ehknull, &nehk);
	if (ehks && nehk != n)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("ValidationException: as many explicit hash keys as partition keys, when given")));

	nranges = load_ranges(PG_GETARG_TEXT_PP(0), &ranges);
	if (nranges == 0)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("kinesis_cluster is not configured"),
						errhint("Run kinesis_cluster.configure(node_names, connection_strings) as a superuser.")));

	nodes = palloc(sizeof(Datum) * Max(n, 1));
	locals = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		u128		h = 0;
		Range	   *hit = NULL;

		if (ehk && !ehknull[i])
		{
			char	   *digits = DatumGetCString(DirectFunctionCall1(numeric_out, ehk[i]));

			if (!parse_u128(digits, &h))
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								errmsg("InvalidArgumentException: hash key %s is outside [0, 2^128 - 1]", digits)));
		}
		else
		{
			text	   *t;
			char	   *bytes;
			int			len;
			uint8		md5[16];
			const char *err = NULL;

			if (pknull[i])
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								errmsg("ValidationException: partition keys must not be null")));
			t = DatumGetTextPP(pk[i]);
			len = VARSIZE_ANY_EXHDR(t);
			bytes = (char *) pg_do_encoding_conversion((unsigned char *) VARDATA_ANY(t), len,
													   GetDatabaseEncoding(), PG_UTF8);
			if (bytes != VARDATA_ANY(t))
				len = strlen(bytes);
			if (!pg_md5_binary(bytes, len, md5, &err))
				elog(ERROR, "could not compute MD5: %s", err ? err : "unknown error");
			for (int b = 0; b < 16; b++)
				h = (h << 8) | md5[b];
		}
		for (int r = 0; r < nranges && hit == NULL; r++)
			if (h >= ranges[r].start && h <= ranges[r].end)
				hit = &ranges[r];
		if (hit == NULL)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("InvalidArgumentException: no node holds hash key of record %d", i + 1)));
		nodes[i] = Int32GetDatum(hit->node);
		locals[i] = u128_numeric(hit->home ? stretch(h - hit->start, hit->end - hit->start + 1) : h);
	}

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = PointerGetDatum(construct_array(nodes, n, INT4OID, 4, true, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(locals, n, NUMERICOID, -1, false, TYPALIGN_INT));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
