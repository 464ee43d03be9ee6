/*
 * ops_put.c - PutRecords, the put hot path: one pass over the request's
 * Records checks them and builds the binary text[] / bytea[] parameters
 * (Data decoded from base64 straight into the array), so PostgreSQL
 * neither parses JSON nor decodes base64; and its answer.  Also the
 * Records check of Firehose PutRecordBatch.  Event-loop thread only.
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
	ok = records_check(in, &a, e);
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

json_object *
r_put_records(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object(),
			   *a = json_object_new_array();
	int			failed = 0;

	for (int i = 0; i < PQntuples(res[0]); i++)
	{
		json_object *x = json_object_new_object();

		if (PQgetisnull(res[0], i, 1))
		{
			failed++;
			add_col(x, "ErrorCode", res[0], i, 2);
			add_col(x, "ErrorMessage", res[0], i, 3);
		}
		else
		{
			add_col(x, "SequenceNumber", res[0], i, 1);
			add_col(x, "ShardId", res[0], i, 0);
		}
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "FailedRecordCount", json_object_new_int(failed));
	json_object_object_add(o, "Records", a);
	add_str(o, "EncryptionType", "NONE");
	return o;
}
