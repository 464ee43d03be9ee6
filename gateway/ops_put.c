/*
 * ops_put.c - PutRecords, the put hot path: one pass over the request's
 * Records checks them and builds the binary text[] / bytea[] parameters
 * (Data decoded from base64 straight into the array), so PostgreSQL
 * neither parses JSON nor decodes base64; and its answer, written
 * straight into one buffer (answer.c).  Also the Records check of
 * Firehose PutRecordBatch.  Event-loop thread only.
 */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PutRecords' records as binary arrays (check_records fills them). */
typedef struct records_arrays
{
	gw_buf		keys;			/* text[] of PartitionKey */
	gw_buf		data;			/* bytea[] of the decoded Data */
	gw_buf		hash_keys;		/* text[] of ExplicitHashKey (NULL when absent) */
	bool		any_hash_key;
} records_arrays;

/*
 * Check Records: an array of objects with a base64 Data (and PartitionKey).
 * With a, also build the arrays of PutRecords in the same pass (Data
 * decoded straight into the bytea[]); the caller frees them.
 */
static bool
records_check(json_object *in, bool keys, records_arrays *a, gw_err *e)
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
				   *k = NULL;

		if (!json_object_is_type(rec, json_type_object))
			return op_fail(e, "SerializationException", "Records[%zu] must be an object", i);
		if (!in_req(rec, "Data", &d, e))
			return false;
		if (a ? !gw_array_put_base64(&a->data, d, strlen(d)) : !check_blob("Data", d, e))
			return op_fail(e, "SerializationException", "Data is not valid base64");
		if (keys && !in_req(rec, "PartitionKey", &k, e))
			return false;
		if (!a)
			continue;
		gw_array_put(&a->keys, k, (int) strlen(k));
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
check_records(json_object *in, bool keys, gw_err *e)
{
	return records_check(in, keys, NULL, e);
}

/*
 * PutRecords: the keys and the decoded data go as binary text[] and
 * bytea[] parameters to kinesis.put_records(stream, keys, data), the
 * statement prepared once per connection; with explicit hash keys the
 * records are assembled from unnest() of the three arrays instead.
 */
bool
b_put_records(gw_request *r, json_object *in, gw_err *e)
{
	records_arrays a = {{0}};
	gw_query   *q;
	bool		ok;
	char		stream[NAMELEN];

	if (!in_stream(in, stream, sizeof(stream), e))
		return false;
	ok = records_check(in, true, &a, e);
	if (ok)
	{
		gw_query_add(r, a.any_hash_key ?
					 "SELECT shard_id, sequence_number::text, error_code, error_message FROM "
					 "kinesis.put_records($1, ARRAY(SELECT ROW(t.k, t.d, t.h::numeric)::kinesis.put_records_entry "
					 "FROM unnest($2::text[], $3::bytea[], $4::text[]) WITH ORDINALITY AS t(k, d, h, n) ORDER BY t.n))" :
					 "SELECT shard_id, sequence_number::text, error_code, error_message FROM "
					 "kinesis.put_records($1, $2::text[], $3::bytea[])",
					 1, stream);
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
