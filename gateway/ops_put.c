/*
 * ops_put.c - PutRecords, the put hot path: one pass over the request's
 * Records checks them and builds the binary text[] / bytea[] parameters
 * (Data decoded from base64 straight into the array), so PostgreSQL
 * neither parses JSON nor decodes base64; and its answer, written
 * straight into one buffer (answer.c).  A JSON body of the plain shape is
 * parsed by yajl straight into those arrays (p_put_records, run before
 * json-c would parse it); other bodies take the json-c tree.  Also the
 * Records check of Firehose PutRecordBatch.  Event-loop thread only.
 */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

/* PutRecords' records as binary arrays (check_records fills them). */
typedef struct records_arrays
{
	gw_buf		keys;			/* text[] of PartitionKey */
	gw_buf		data;			/* bytea[] of the decoded Data */
	gw_buf		hash_keys;		/* text[] of ExplicitHashKey (NULL when absent) */
	bool		any_hash_key;
} records_arrays;

/*
 * Check Records: an array of objects with a base64 Data.  With a, also
 * build the arrays of PutRecords in the same pass (Data decoded straight
 * into the bytea[]); the caller frees them.  PartitionKey is optional (a
 * stream with the AUTO record distribution strategy needs none): a missing
 * one goes as NULL and kinesis.put_records decides, by the stream.
 */
static bool
records_check(json_object *in, records_arrays *a, gw_err *e)
{
	json_object *recs;
	size_t		n;

	if (!json_object_object_get_ex(in, "Records", &recs) || !json_object_is_type(recs, json_type_array))
		return op_fail(e, "ValidationException", "Records must be an array");
	n = json_object_array_length(recs);
	if (a)
	{
		gw_array_start(&a->keys, GW_TEXTOID, (int) n);
		gw_array_start(&a->data, GW_BYTEAOID, (int) n);
		gw_array_start(&a->hash_keys, GW_TEXTOID, (int) n);
	}
	for (size_t i = 0; i < n; i++)
	{
		json_object *rec = json_object_array_get_idx(recs, i),
				   *ehk;
		const char *d,
				   *k;

		if (!json_object_is_type(rec, json_type_object))
			return op_fail(e, "SerializationException", "Records[%zu] must be an object", i);
		if (!in_req(rec, "Data", &d, e))
			return false;
		if (a ? !gw_array_put_base64(&a->data, d, strlen(d)) : !check_blob("Data", d, e))
			return op_fail(e, "SerializationException", "Data is not valid base64");
		if (!a)
			continue;
		k = in_str(rec, "PartitionKey");
		gw_array_put(&a->keys, k, k ? (int) strlen(k) : -1);
		if (json_object_object_get_ex(rec, "ExplicitHashKey", &ehk) && ehk)
		{
			const char *h = json_object_get_string(ehk);

			gw_array_put(&a->hash_keys, h, (int) strlen(h));
			a->any_hash_key = true;
		}
		else
			gw_array_put(&a->hash_keys, NULL, -1);
	}
	return true;
}

/* Check Records (Firehose PutRecordBatch). */
bool
check_records(json_object *in, gw_err *e)
{
	return records_check(in, NULL, e);
}

/* ---- the JSON fast path (yajl) ---- */

/* Members the fast path knows */
enum
{
	M_OTHER, M_STREAM_NAME, M_STREAM_ARN, M_RECORDS,	/* the body's */
	M_DATA, M_KEY, M_HASH_KEY	/* a record's */
};

/* What the fast path found: the stream and the arrays, ready to bind */
typedef struct put_fast
{
	char		stream[NAMELEN];
	records_arrays a;
} put_fast;

/* The parse's state (yajl callbacks) */
typedef struct fast_parse
{
	const char *body;
	size_t		body_len;
	int			depth;			/* 1 the body, 2 Records, 3 a record */
	int			member;			/* of the value that comes next */
	unsigned	seen;			/* members seen at depth 1 (bits), and of the record */
	unsigned	rec_seen;
	const unsigned char *v[M_HASH_KEY + 1]; /* string values and their lengths */
	size_t		vlen[M_HASH_KEY + 1];
	int			nrecords;
	records_arrays a;
} fast_parse;

/* True when p .. p+len lies in the body: a string without escapes. */
static bool
in_body(fast_parse *f, const unsigned char *p, size_t len)
{
	return (const char *) p >= f->body && (const char *) p + len <= f->body + f->body_len;
}

/* Any number, boolean or null: the general path decides */
static int
fp_decline(void *ctx)
{
	return 0;
}

static int
fp_decline_bool(void *ctx, int b)
{
	return 0;
}

static int
fp_decline_number(void *ctx, const char *s, size_t len)
{
	return 0;
}

static int
fp_key(void *ctx, const unsigned char *k, size_t len)
{
	fast_parse *f = ctx;
	unsigned   *seen = f->depth == 1 ? &f->seen : &f->rec_seen;

#define IS(name) (len == sizeof(name) - 1 && memcmp(k, name, len) == 0)
	if (!in_body(f, k, len))
		return 0;
	if (f->depth == 1)
		f->member = IS("StreamName") ? M_STREAM_NAME : IS("StreamARN") ? M_STREAM_ARN :
			IS("Records") ? M_RECORDS : M_OTHER;
	else
		f->member = IS("Data") ? M_DATA : IS("PartitionKey") ? M_KEY :
			IS("ExplicitHashKey") ? M_HASH_KEY : M_OTHER;
#undef IS
	/* a repeated member: json-c keeps the last one; leave it to that path */
	if (f->member != M_OTHER && (*seen & (1u << f->member)))
		return 0;
	*seen |= 1u << f->member;
	return 1;
}

static int
fp_string(void *ctx, const unsigned char *v, size_t len)
{
	fast_parse *f = ctx;

	if (f->depth == 2 || f->member == M_RECORDS || !in_body(f, v, len))
		return 0;
	f->v[f->member] = v;
	f->vlen[f->member] = len;
	return 1;
}

static int
fp_start_map(void *ctx)
{
	fast_parse *f = ctx;

	if (f->depth != 0 && f->depth != 2)
		return 0;
	f->depth++;
	f->rec_seen = 0;
	return 1;
}

/* The end of a record: append it to the arrays (records_check's rules). */
static int
fp_end_map(void *ctx)
{
	fast_parse *f = ctx;

	f->depth--;
	if (f->depth == 0)
		return 1;
	if (!(f->rec_seen & (1u << M_DATA)) || !(f->rec_seen & (1u << M_KEY)) ||
		!gw_array_put_base64(&f->a.data, (const char *) f->v[M_DATA], f->vlen[M_DATA]))
		return 0;
	gw_array_put(&f->a.keys, (const char *) f->v[M_KEY], (int) f->vlen[M_KEY]);
	if (f->rec_seen & (1u << M_HASH_KEY))
	{
		gw_array_put(&f->a.hash_keys, (const char *) f->v[M_HASH_KEY], (int) f->vlen[M_HASH_KEY]);
		f->a.any_hash_key = true;
	}
	else
		gw_array_put(&f->a.hash_keys, NULL, -1);
	f->nrecords++;
	return 1;
}

static int
fp_start_array(void *ctx)
{
	fast_parse *f = ctx;

	if (f->depth != 1 || f->member != M_RECORDS)
		return 0;
	f->depth++;
	return 1;
}

static int
fp_end_array(void *ctx)
{
	((fast_parse *) ctx)->depth--;
	return 1;
}

static const yajl_callbacks fast_callbacks = {
	fp_decline, fp_decline_bool, NULL, NULL, fp_decline_number, fp_string,
	fp_start_map, fp_key, fp_end_map, fp_start_array, fp_end_array
};

static void
put_fast_free(void *p)
{
	put_fast   *pf = p;

	free(pf->a.keys.data);
	free(pf->a.data.data);
	free(pf->a.hash_keys.data);
	free(pf);
}

/*
 * The fast path of a PutRecords JSON body: one yajl pass (no tree) checks
 * it and builds the arrays.  It takes only the plain shape, where the
 * answer cannot differ from the json-c path's: the body an object of
 * strings and a Records array of objects of strings, no member repeated,
 * no escapes in the strings, every record with a PartitionKey and a
 * base64 Data, a valid stream name.  Anything else (yajl rejects only what
 * json-c rejects or is not that shape) returns false, and the body goes
 * through json-c and b_put_records' checks, which answer the errors.
 * The arrays wait in r->fast for b_put_records.
 */
bool
p_put_records(gw_request *r)
{
	fast_parse	f = {0};
	yajl_handle h = yajl_alloc(&fast_callbacks, NULL, &f);
	bool		ok;
	gw_err		e;

	f.body = r->body;
	f.body_len = r->body_len;
	gw_array_start(&f.a.keys, GW_TEXTOID, 1);
	gw_array_start(&f.a.data, GW_BYTEAOID, 1);
	gw_array_start(&f.a.hash_keys, GW_TEXTOID, 1);
	ok = yajl_parse(h, (const unsigned char *) r->body, r->body_len) == yajl_status_ok &&
		yajl_complete_parse(h) == yajl_status_ok && f.depth == 0 && f.nrecords > 0 &&
		(f.seen & (1u << M_RECORDS));
	yajl_free(h);
	if (ok)
	{
		json_object *names = json_object_new_object();
		put_fast   *pf = malloc(sizeof(put_fast));

		/* the stream's checks are in_stream's */
		if (f.v[M_STREAM_NAME])
			json_object_object_add(names, "StreamName",
								   json_object_new_string_len((const char *) f.v[M_STREAM_NAME], (int) f.vlen[M_STREAM_NAME]));
		if (f.v[M_STREAM_ARN])
			json_object_object_add(names, "StreamARN",
								   json_object_new_string_len((const char *) f.v[M_STREAM_ARN], (int) f.vlen[M_STREAM_ARN]));
		ok = in_stream(names, pf->stream, sizeof(pf->stream), &e);
		json_object_put(names);
		/* the record count, known now (gw_array_start's layout) */
		gw_array_count(&f.a.keys, f.nrecords);
		gw_array_count(&f.a.data, f.nrecords);
		gw_array_count(&f.a.hash_keys, f.nrecords);
		pf->a = f.a;
		if (ok)
		{
			r->fast = pf;
			r->fast_free = put_fast_free;
			return true;
		}
		put_fast_free(pf);
		return false;
	}
	free(f.a.keys.data);
	free(f.a.data.data);
	free(f.a.hash_keys.data);
	return false;
}

/*
 * PutRecords: the keys and the decoded data go as binary text[] and
 * bytea[] parameters to kinesis.put_records(stream, keys, data), the
 * statement prepared once per connection; with explicit hash keys the
 * records are assembled from unnest() of the three arrays instead
 * (kinesis_cluster.put_records with routing = cluster: ops_routing.c).  The
 * arrays come from the fast path (p_put_records) or from records_check.
 */
bool
b_put_records(gw_request *r, json_object *in, gw_err *e)
{
	records_arrays a = {{0}};
	gw_query   *q;
	bool		ok;
	char		stream[NAMELEN];

	if (r->fast)
	{
		put_fast   *pf = r->fast;

		a = pf->a;
		memset(&pf->a, 0, sizeof(pf->a));
		strcpy(stream, pf->stream);
		ok = true;
	}
	else if (!in_stream(in, stream, sizeof(stream), e))
		return false;
	else
		ok = records_check(in, &a, e);
	if (ok)
	{
		ROUTED_QUERY(r, a.any_hash_key ? GW_Q_PUT_RECORDS_HASH : GW_Q_PUT_RECORDS, stream);
		q = &r->queries[r->nqueries - 1];
		gw_query_bind(q, &a.keys, GW_TEXTARRAYOID);
		gw_query_bind(q, &a.data, GW_BYTEAARRAYOID);
		if (a.any_hash_key)
			gw_query_bind(q, &a.hash_keys, GW_TEXTARRAYOID);
	}
	free(a.keys.data);
	free(a.data.data);
	free(a.hash_keys.data);
	return ok;
}

/* A string member from a column unless it is NULL (counted by present()). */
static void
out_col(gw_out *o, const char *key, PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return;
	gw_out_key(o, key);
	gw_out_str(o, PQgetvalue(res, row, col), PQgetlength(res, row, col));
}

/* How many of the columns a and b of row are not NULL. */
static int
present(PGresult *res, int row, int a, int b)
{
	return !PQgetisnull(res, row, a) + !PQgetisnull(res, row, b);
}

/*
 * The answer of PutRecords, written straight out (answer.c): a failed
 * record (NULL sequence number) has ErrorCode and ErrorMessage, the others
 * SequenceNumber and ShardId.
 */
bool
a_put_records(gw_request *r, json_object *in, PGresult **res, gw_out *o, gw_err *e)
{
	int			n = PQntuples(res[0]),
				failed = 0;

	for (int i = 0; i < n; i++)
		failed += PQgetisnull(res[0], i, 1);
	gw_out_map(o, 3);
	gw_out_key(o, "FailedRecordCount");
	gw_out_int(o, failed);
	gw_out_key(o, "Records");
	gw_out_array(o, n);
	for (int i = 0; i < n; i++)
	{
		bool		ok = !PQgetisnull(res[0], i, 1);

		gw_out_map(o, ok ? present(res[0], i, 1, 0) : present(res[0], i, 2, 3));
		if (ok)
		{
			out_col(o, "SequenceNumber", res[0], i, 1);
			out_col(o, "ShardId", res[0], i, 0);
		}
		else
		{
			out_col(o, "ErrorCode", res[0], i, 2);
			out_col(o, "ErrorMessage", res[0], i, 3);
		}
		gw_out_end(o);
	}
	gw_out_end(o);
	gw_out_key(o, "EncryptionType");
	gw_out_str(o, "NONE", 4);
	gw_out_end(o);
	return true;
}
