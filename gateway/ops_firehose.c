/*
 * ops_firehose.c - the Firehose operations over the firehose.* SQL
 * functions (Direct PUT, describe, list, delete), and the table lookup of
 * X-Amz-Target.  CreateDeliveryStream is refused with a pointer to SQL:
 * destinations here are tables, files and programs, which the Firehose API
 * cannot name.  Event-loop thread only.
 */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool		check_records(json_object *in, gw_err *e);

static bool
b_put_record(gw_request *r, json_object *in, gw_err *e)
{
	const char *name,
			   *data;
	json_object *rec;

	if (!in_req(in, "DeliveryStreamName", &name, e))
		return false;
	if (!json_object_object_get_ex(in, "Record", &rec) || !json_object_is_type(rec, json_type_object))
		return op_fail(e, "ValidationException", "Record must be given");
	if (!in_req(rec, "Data", &data, e) || !check_blob("Data", data, e))
		return false;
	gw_query_add(r, "SELECT firehose.put_record($1, decode($2, 'base64'))", 2, name, data);
	return true;
}

static json_object *
r_put_record(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();

	add_col(o, "RecordId", res[0], 0, 0);
	json_object_object_add(o, "Encrypted", json_object_new_boolean(false));
	return o;
}

static bool
b_put_record_batch(gw_request *r, json_object *in, gw_err *e)
{
	const char *name;
	json_object *recs;

	if (!in_req(in, "DeliveryStreamName", &name, e) || !check_records(in, e))
		return false;
	json_object_object_get_ex(in, "Records", &recs);
	gw_query_add(r, "SELECT record_id, error_code, error_message FROM firehose.put_record_batch($1, "
				 "ARRAY(SELECT decode(e->>'Data', 'base64') FROM jsonb_array_elements($2::jsonb) "
				 "WITH ORDINALITY AS t(e, n) ORDER BY n))",
				 2, name, json_object_to_json_string_ext(recs, JSON_C_TO_STRING_PLAIN));
	return true;
}

static json_object *
r_put_record_batch(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object(),
			   *a = json_object_new_array();
	int			failed = 0;

	for (int i = 0; i < PQntuples(res[0]); i++)
	{
		json_object *x = json_object_new_object();

		if (PQgetisnull(res[0], i, 0))
		{
			failed++;
			add_col(x, "ErrorCode", res[0], i, 1);
			add_col(x, "ErrorMessage", res[0], i, 2);
		}
		else
			add_col(x, "RecordId", res[0], i, 0);
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "FailedPutCount", json_object_new_int(failed));
	json_object_object_add(o, "Encrypted", json_object_new_boolean(false));
	json_object_object_add(o, "RequestResponses", a);
	return o;
}

static bool
b_create(gw_request *r, json_object *in, gw_err *e)
{
	return op_fail(e, "InvalidArgumentException",
				   "create delivery streams with firehose.create_delivery_stream() in SQL: "
				   "their destinations are tables, directories and programs");
}

static bool
b_describe(gw_request *r, json_object *in, gw_err *e)
{
	const char *name;

	if (!in_req(in, "DeliveryStreamName", &name, e))
		return false;
	gw_query_add(r, "SELECT delivery_stream_name, delivery_stream_status, delivery_stream_type, "
				 "version_id::text, source_stream, destination_type FROM firehose.describe_delivery_stream($1)",
				 1, name);
	return true;
}

static json_object *
r_describe(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o,
			   *d,
			   *dest,
			   *dests;
	char		arn[600];

	if (PQntuples(res[0]) != 1)
	{
		op_fail(e, "ResourceNotFoundException", "delivery stream not found");
		return NULL;
	}
	o = json_object_new_object();
	d = json_object_new_object();
	add_col(d, "DeliveryStreamName", res[0], 0, 0);
	snprintf(arn, sizeof(arn), "arn:aws:firehose:%s:%s:deliverystream/%s", gw_conf->region,
			 gw_conf->account_id, PQgetvalue(res[0], 0, 0));
	add_str(d, "DeliveryStreamARN", arn);
	add_col(d, "DeliveryStreamStatus", res[0], 0, 1);
	add_col(d, "DeliveryStreamType", res[0], 0, 2);
	add_col(d, "VersionId", res[0], 0, 3);
	if (strcmp(PQgetvalue(res[0], 0, 2), "KinesisStreamAsSource") == 0)
	{
		json_object *src = json_object_new_object(),
				   *k = json_object_new_object();

		stream_arn(PQgetvalue(res[0], 0, 4), arn, sizeof(arn));
		add_str(k, "KinesisStreamARN", arn);
		json_object_object_add(src, "KinesisStreamSourceDescription", k);
		json_object_object_add(d, "Source", src);
	}
	dests = json_object_new_array();
	dest = json_object_new_object();
	add_str(dest, "DestinationId", "destinationId-000000000001");
	json_object_array_add(dests, dest);
	json_object_object_add(d, "Destinations", dests);
	json_object_object_add(d, "HasMoreDestinations", json_object_new_boolean(false));
	json_object_object_add(o, "DeliveryStreamDescription", d);
	return o;
}

/* ListDeliveryStreams' Limit: 1..10000, default 10. */
static bool
list_limit(json_object *in, int *max, gw_err *e)
{
	return in_limit(in, "Limit", "limit", 10, 10000, max, e);
}

static bool
b_list(gw_request *r, json_object *in, gw_err *e)
{
	int			max;
	char		lim[16];

	if (!list_limit(in, &max, e))
		return false;
	snprintf(lim, sizeof(lim), "%d", max + 1);
	gw_query_add(r, "SELECT delivery_stream_name FROM firehose.list_delivery_streams() "
				 "WHERE ($1::text IS NULL OR delivery_stream_type = $1) "
				 "AND ($2::text IS NULL OR delivery_stream_name COLLATE \"C\" > $2) "
				 "ORDER BY delivery_stream_name COLLATE \"C\" LIMIT $3::integer",
				 3, in_str(in, "DeliveryStreamType"), in_str(in, "ExclusiveStartDeliveryStreamName"), lim);
	return true;
}

static json_object *
r_list(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object(),
			   *a = json_object_new_array();
	int			max = 10;

	list_limit(in, &max, e);
	for (int i = 0; i < PQntuples(res[0]) && i < max; i++)
		json_object_array_add(a, json_object_new_string(PQgetvalue(res[0], i, 0)));
	json_object_object_add(o, "DeliveryStreamNames", a);
	json_object_object_add(o, "HasMoreDeliveryStreams", json_object_new_boolean(PQntuples(res[0]) > max));
	return o;
}

static bool
b_delete(gw_request *r, json_object *in, gw_err *e)
{
	const char *name;

	if (!in_req(in, "DeliveryStreamName", &name, e))
		return false;
	gw_query_add(r, "SELECT firehose.delete_delivery_stream($1)", 1, name);
	return true;
}

const gw_op gw_firehose_ops[] = {
	{"Firehose_20150804", "PutRecord", b_put_record, r_put_record},
	{"Firehose_20150804", "PutRecordBatch", b_put_record_batch, r_put_record_batch},
	{"Firehose_20150804", "CreateDeliveryStream", b_create, r_empty},
	{"Firehose_20150804", "DescribeDeliveryStream", b_describe, r_describe},
	{"Firehose_20150804", "ListDeliveryStreams", b_list, r_list},
	{"Firehose_20150804", "DeleteDeliveryStream", b_delete, r_empty},
	{NULL}
};

/* The operation X-Amz-Target names, or NULL. */
const gw_op *
gw_op_find(const char *target)
{
	const char *dot = strchr(target, '.');
	const gw_op *tables[] = {gw_kinesis_ops, gw_kinesis_meta_ops, gw_kinesis_channel_ops, gw_firehose_ops};

	if (!dot)
		return NULL;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const gw_op *op = tables[t]; op->name; op++)
			if (strlen(op->service) == (size_t) (dot - target) &&
				strncmp(op->service, target, dot - target) == 0 && strcmp(op->name, dot + 1) == 0)
				return op;
	return NULL;
}
