/*
 * ops_kinesis_meta.c - the Kinesis operations on a stream's metadata: tags
 * (of streams and consumers), resource policies, encryption, enhanced
 * monitoring, limits and account settings, over the kinesis.* functions of
 * src/streams/stream_metadata.sql; the record-size and warm-throughput
 * updates (only what holds here is accepted); ListStreamConsumers with
 * paging.
 * The functions check the caller's rights and Kinesis' rules; this file
 * only maps members to arguments and rows to members.  Event-loop thread
 * only.
 */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A required array of strings (TagKeys, ShardLevelMetrics) as JSON text. */
static bool
in_strings(json_object *in, const char *key, const char **out, gw_err *e)
{
	json_object *v;

	if (!json_object_object_get_ex(in, key, &v) || v == NULL)
		return op_fail(e, "ValidationException",
					   "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null",
					   key);
	if (!json_object_is_type(v, json_type_array))
		return op_fail(e, "SerializationException", "%s must be a list of strings", key);
	for (size_t i = 0; i < json_object_array_length(v); i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
			return op_fail(e, "SerializationException", "%s must be a list of strings", key);
	*out = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	return true;
}

/* The required Tags map as JSON text. */
static bool
in_tags(json_object *in, const char **out, gw_err *e)
{
	json_object *v;

	if (!json_object_object_get_ex(in, "Tags", &v) || v == NULL)
		return op_fail(e, "ValidationException",
					   "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null");
	if (!json_object_is_type(v, json_type_object))
		return op_fail(e, "SerializationException", "Tags must be a map of strings");
	*out = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	return true;
}

/*
 * The stream, and consumer ("" for the stream itself), that ResourceARN
 * names: a stream ARN or a consumer ARN.
 */
static bool
in_resource(json_object *in, char *stream, size_t slen, char *consumer, size_t clen, gw_err *e)
{
	const char *arn;
	json_object *tmp;
	bool		ok;

	if (!in_req(in, "ResourceARN", &arn, e))
		return false;
	tmp = json_object_new_object();
	consumer[0] = '\0';
	if (strstr(arn, "/consumer/"))
	{
		json_object_object_add(tmp, "ConsumerARN", json_object_new_string(arn));
		ok = in_consumer(tmp, stream, slen, consumer, clen, e);
	}
	else
	{
		json_object_object_add(tmp, "StreamARN", json_object_new_string(arn));
		ok = in_stream(tmp, stream, slen, e);
	}
	json_object_put(tmp);
	return ok;
}

#define RESOURCE(in) \
	char stream[NAMELEN], consumer[NAMELEN]; \
	if (!in_resource(in, stream, sizeof(stream), consumer, sizeof(consumer), e)) return false

#define CONSUMER_OR_NULL (consumer[0] ? consumer : NULL)

/* Tags [{Key, Value}] from rows (tag_key, tag_value), at most max. */
static json_object *
tags_json(PGresult *res, int max)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < PQntuples(res) && i < max; i++)
	{
		json_object *t = json_object_new_object();

		add_col(t, "Key", res, i, 0);
		add_col(t, "Value", res, i, 1);
		json_object_array_add(a, t);
	}
	return a;
}

/* A JSON text column (an array) parsed, or an empty array. */
static json_object *
json_col(PGresult *res, int row, int col)
{
	json_object *v = PQgetisnull(res, row, col) ? NULL : json_tokener_parse(PQgetvalue(res, row, col));

	return v ? v : json_object_new_array();
}

/* ---- tags ---- */

static bool
b_add_tags(gw_request *r, json_object *in, gw_err *e)
{
	const char *tags;

	STREAM(in);
	if (!in_tags(in, &tags, e))
		return false;
	gw_query_add(r, "SELECT kinesis.add_tags_to_stream($1, $2::jsonb)", 2, stream, tags);
	return true;
}

static bool
b_remove_tags(gw_request *r, json_object *in, gw_err *e)
{
	const char *keys;

	STREAM(in);
	if (!in_strings(in, "TagKeys", &keys, e))
		return false;
	gw_query_add(r, "SELECT kinesis.remove_tags_from_stream($1, ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))",
				 2, stream, keys);
	return true;
}

/* ListTagsForStream's Limit: 1..50, default 50. */
static bool
tags_limit(json_object *in, int *max, gw_err *e)
{
	return in_limit(in, "Limit", "limit", 50, 50, max, e);
}

static bool
b_list_tags(gw_request *r, json_object *in, gw_err *e)
{
	int			max;
	char		lim[16];

	STREAM(in);
	if (!tags_limit(in, &max, e))
		return false;
	snprintf(lim, sizeof(lim), "%d", max + 1);
	gw_query_add(r, "SELECT tag_key, tag_value FROM kinesis.list_tags_for_stream($1, $2, $3::integer)",
				 3, stream, in_str(in, "ExclusiveStartTagKey"), lim);
	return true;
}

static json_object *
r_list_tags(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();
	int			max = 50;

	tags_limit(in, &max, e);
	json_object_object_add(o, "Tags", tags_json(res[0], max));
	json_object_object_add(o, "HasMoreTags", json_object_new_boolean(PQntuples(res[0]) > max));
	return o;
}

static bool
b_tag_resource(gw_request *r, json_object *in, gw_err *e)
{
	const char *tags;

	RESOURCE(in);
	if (!in_tags(in, &tags, e))
		return false;
	gw_query_add(r, "SELECT kinesis.tag_resource($1, $2::jsonb, $3)", 3, stream, tags, CONSUMER_OR_NULL);
	return true;
}

static bool
b_untag_resource(gw_request *r, json_object *in, gw_err *e)
{
	const char *keys;

	RESOURCE(in);
	if (!in_strings(in, "TagKeys", &keys, e))
		return false;
	gw_query_add(r, "SELECT kinesis.untag_resource($1, ARRAY(SELECT jsonb_array_elements_text($2::jsonb)), $3)",
				 3, stream, keys, CONSUMER_OR_NULL);
	return true;
}

static bool
b_list_tags_resource(gw_request *r, json_object *in, gw_err *e)
{
	RESOURCE(in);
	gw_query_add(r, "SELECT tag_key, tag_value FROM kinesis.list_tags_for_resource($1, $2)", 2, stream,
				 CONSUMER_OR_NULL);
	return true;
}

static json_object *
r_list_tags_resource(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "Tags", tags_json(res[0], PQntuples(res[0])));
	return o;
}

/* ---- resource policies ---- */

static bool
b_put_policy(gw_request *r, json_object *in, gw_err *e)
{
	const char *policy;

	RESOURCE(in);
	if (!in_req(in, "Policy", &policy, e))
		return false;
	gw_query_add(r, "SELECT kinesis.put_resource_policy($1, $2, $3)", 3, stream, policy, CONSUMER_OR_NULL);
	return true;
}

static bool
b_get_policy(gw_request *r, json_object *in, gw_err *e)
{
	RESOURCE(in);
	/* no policy attached: an empty policy document, as Kinesis answers */
	gw_query_add(r, "SELECT coalesce(kinesis.get_resource_policy($1, $2), '{}')", 2, stream, CONSUMER_OR_NULL);
	return true;
}

static json_object *
r_get_policy(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();

	add_col(o, "Policy", res[0], 0, 0);
	return o;
}

static bool
b_delete_policy(gw_request *r, json_object *in, gw_err *e)
{
	RESOURCE(in);
	gw_query_add(r, "SELECT kinesis.delete_resource_policy($1, $2)", 2, stream, CONSUMER_OR_NULL);
	return true;
}

/* ---- encryption and enhanced monitoring ---- */

static bool
encryption(gw_request *r, json_object *in, gw_err *e, const char *sql)
{
	const char *type,
			   *key;

	STREAM(in);
	if (!in_req(in, "EncryptionType", &type, e) || !in_req(in, "KeyId", &key, e))
		return false;
	gw_query_add(r, sql, 3, stream, type, key);
	return true;
}

static bool
b_start_encryption(gw_request *r, json_object *in, gw_err *e)
{
	return encryption(r, in, e, "SELECT kinesis.start_stream_encryption($1, $2, $3)");
}

static bool
b_stop_encryption(gw_request *r, json_object *in, gw_err *e)
{
	return encryption(r, in, e, "SELECT kinesis.stop_stream_encryption($1, $2, $3)");
}

static bool
monitoring(gw_request *r, json_object *in, gw_err *e, const char *sql)
{
	const char *metrics;

	STREAM(in);
	if (!in_strings(in, "ShardLevelMetrics", &metrics, e))
		return false;
	gw_query_add(r, sql, 2, stream, metrics);
	return true;
}

#define MONITORING_SQL(f) "SELECT array_to_json(current_shard_level_metrics)::text, " \
	"array_to_json(desired_shard_level_metrics)::text, $1::text " \
	"FROM kinesis." f "($1, ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))"

static bool
b_enable_monitoring(gw_request *r, json_object *in, gw_err *e)
{
	return monitoring(r, in, e, MONITORING_SQL("enable_enhanced_monitoring"));
}

static bool
b_disable_monitoring(gw_request *r, json_object *in, gw_err *e)
{
	return monitoring(r, in, e, MONITORING_SQL("disable_enhanced_monitoring"));
}

static json_object *
r_monitoring(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();
	char		arn[600];

	add_col(o, "StreamName", res[0], 0, 2);
	stream_arn(PQgetvalue(res[0], 0, 2), arn, sizeof(arn));
	add_str(o, "StreamARN", arn);
	json_object_object_add(o, "CurrentShardLevelMetrics", json_col(res[0], 0, 0));
	json_object_object_add(o, "DesiredShardLevelMetrics", json_col(res[0], 0, 1));
	return o;
}

/*
 * The EnhancedMonitoring, EncryptionType and KeyId members of
 * DescribeStream(Summary) from the columns of kinesis.describe_stream_settings
 * starting at col.
 */
void
add_stream_settings(json_object *d, PGresult *res, int col)
{
	json_object *em = json_object_new_array(),
			   *m = json_object_new_object();

	json_object_object_add(m, "ShardLevelMetrics", json_col(res, 0, col + 2));
	json_object_array_add(em, m);
	json_object_object_add(d, "EnhancedMonitoring", em);
	add_col(d, "EncryptionType", res, 0, col);
	add_col(d, "KeyId", res, 0, col + 1);
}

/* ---- limits ---- */

static bool
b_describe_limits(gw_request *r, json_object *in, gw_err *e)
{
	gw_query_add(r, "SELECT shard_limit, open_shard_count, on_demand_stream_count, on_demand_stream_count_limit "
				 "FROM kinesis.describe_limits()", 0);
	return true;
}

static json_object *
r_describe_limits(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();

	add_int(o, "ShardLimit", res[0], 0, 0);
	add_int(o, "OpenShardCount", res[0], 0, 1);
	add_int(o, "OnDemandStreamCount", res[0], 0, 2);
	add_int(o, "OnDemandStreamCountLimit", res[0], 0, 3);
	/* no channel can exist here (ops_kinesis_channels.c) */
	json_object_object_add(o, "ChannelCount", json_object_new_int(0));
	json_object_object_add(o, "ChannelCountLimit", json_object_new_int(0));
	return o;
}

/* ---- account settings ---- */

static bool
b_describe_account(gw_request *r, json_object *in, gw_err *e)
{
	gw_query_add(r, "SELECT commitment_status, extract(epoch FROM started_at), extract(epoch FROM ended_at) "
				 "FROM kinesis.describe_account_settings()", 0);
	return true;
}

static bool
b_update_account(gw_request *r, json_object *in, gw_err *e)
{
	json_object *m;
	const char *status;

	if (!json_object_object_get_ex(in, "MinimumThroughputBillingCommitment", &m) ||
		!json_object_is_type(m, json_type_object))
		return op_fail(e, "ValidationException",
					   "1 validation error detected: Value null at 'minimumThroughputBillingCommitment' failed to satisfy constraint: Member must not be null");
	if (!in_req(m, "Status", &status, e))
		return false;
	gw_query_add(r, "SELECT commitment_status, extract(epoch FROM started_at), extract(epoch FROM ended_at) "
				 "FROM kinesis.update_account_settings($1)", 1, status);
	return true;
}

static json_object *
r_account(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object(),
			   *m = json_object_new_object();

	add_col(m, "Status", res[0], 0, 0);
	add_epoch(m, "StartedAt", res[0], 0, 1);
	add_epoch(m, "EndedAt", res[0], 0, 2);
	json_object_object_add(o, "MinimumThroughputBillingCommitment", m);
	return o;
}

/*
 * Record size and warm throughput: records are limited to 1 MiB and
 * throughput is not provisioned per stream here, so only the value that
 * holds is accepted (check_record_size), and warm throughput is refused.
 */
bool
check_record_size(json_object *in, bool required, gw_err *e)
{
	char		nb[32];
	const char *kib;

	if (!in_num(in, "MaxRecordSizeInKiB", nb, sizeof(nb), &kib, e))
		return false;
	if (!kib)
		return required ? op_fail(e, "ValidationException",
								  "1 validation error detected: Value null at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must not be null") : true;
	if (atoi(kib) < 1024 || atoi(kib) > 10240)
		return op_fail(e, "ValidationException",
					   "1 validation error detected: Value '%s' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value between 1024 and 10240", kib);
	if (atoi(kib) != 1024)
		return op_fail(e, "InvalidArgumentException",
					   "MaxRecordSizeInKiB %s is not supported: records of kinesis_glue streams are at most 1024 KiB", kib);
	return true;
}

static bool
b_update_record_size(gw_request *r, json_object *in, gw_err *e)
{
	STREAM(in);
	if (!check_record_size(in, true, e))
		return false;
	/* 1024: what every stream has, so nothing changes; the stream must exist */
	gw_query_add(r, "SELECT 1 FROM kinesis.describe_stream_summary($1)", 1, stream);
	return true;
}

static bool
b_update_warm_throughput(gw_request *r, json_object *in, gw_err *e)
{
	return op_fail(e, "InvalidArgumentException",
				   "warm throughput is not supported: kinesis_glue streams are not provisioned by throughput");
}

/* ---- ListStreamConsumers, paged: NextToken = base64("<stream>\n<last consumer>") ---- */

static bool
consumers_limit(json_object *in, int *max, gw_err *e)
{
	return in_limit(in, "MaxResults", "maxResults", 100, 10000, max, e);
}

static bool
b_list_consumers(gw_request *r, json_object *in, gw_err *e)
{
	const char *token = in_str(in, "NextToken"),
			   *created;
	char	   *after = NULL;
	int			max;
	char		lim[16],
				nb[40];

	STREAM(in);
	if (!consumers_limit(in, &max, e) || !in_num(in, "StreamCreationTimestamp", nb, sizeof(nb), &created, e))
		return false;
	if (token)
	{
		size_t		l;
		unsigned char *t = gw_base64_decode(token, &l);
		char	   *nl = t ? memchr(t, '\n', l) : NULL;

		if (!nl || (size_t) (nl - (char *) t) != strlen(stream) || memcmp(t, stream, nl - (char *) t) != 0)
		{
			free(t);
			return op_fail(e, "InvalidArgumentException", "NextToken is not valid for stream %s", stream);
		}
		after = strndup(nl + 1, l - (nl + 1 - (char *) t));
		free(t);
	}
	snprintf(lim, sizeof(lim), "%d", max + 1);
	gw_query_add(r, "SELECT consumer_name, consumer_status, extract(epoch FROM consumer_creation_timestamp) "
				 "FROM kinesis.list_stream_consumers($1) WHERE $2::text IS NULL OR consumer_name COLLATE \"C\" > $2 "
				 "ORDER BY consumer_name COLLATE \"C\" LIMIT $3::integer",
				 3, stream, after, lim);
	/* the stream's name, and whether it is the one StreamCreationTimestamp names (to the millisecond) */
	gw_query_add(r, "SELECT $1::text, $2::float8 IS NULL "
				 "OR abs(extract(epoch FROM stream_creation_timestamp) - $2::float8) < 0.001 "
				 "FROM kinesis.describe_stream_summary($1)", 2, stream, created);
	free(after);
	return true;
}

static json_object *
r_list_consumers(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object(),
			   *a = json_object_new_array();
	const char *stream = PQgetvalue(res[1], 0, 0);
	int			max = 100,
				n = PQntuples(res[0]);

	if (strcmp(PQgetvalue(res[1], 0, 1), "t") != 0)
	{
		json_object_put(o);
		json_object_put(a);
		op_fail(e, "ResourceNotFoundException",
				"stream %s with the given StreamCreationTimestamp does not exist (it was created at another time)", stream);
		return NULL;
	}
	consumers_limit(in, &max, e);
	for (int i = 0; i < n && i < max; i++)
		json_object_array_add(a, consumer_json(stream, res[0], i, false));
	json_object_object_add(o, "Consumers", a);
	if (n > max)
	{
		char		buf[600];
		char	   *t;

		snprintf(buf, sizeof(buf), "%s\n%s", stream, PQgetvalue(res[0], max - 1, 0));
		t = gw_base64_encode((unsigned char *) buf, strlen(buf));
		add_str(o, "NextToken", t);
		free(t);
	}
	return o;
}

const gw_op gw_kinesis_meta_ops[] = {
	{"Kinesis_20131202", "AddTagsToStream", b_add_tags, r_empty},
	{"Kinesis_20131202", "RemoveTagsFromStream", b_remove_tags, r_empty},
	{"Kinesis_20131202", "ListTagsForStream", b_list_tags, r_list_tags},
	{"Kinesis_20131202", "TagResource", b_tag_resource, r_empty},
	{"Kinesis_20131202", "UntagResource", b_untag_resource, r_empty},
	{"Kinesis_20131202", "ListTagsForResource", b_list_tags_resource, r_list_tags_resource},
	{"Kinesis_20131202", "PutResourcePolicy", b_put_policy, r_empty},
	{"Kinesis_20131202", "GetResourcePolicy", b_get_policy, r_get_policy},
	{"Kinesis_20131202", "DeleteResourcePolicy", b_delete_policy, r_empty},
	{"Kinesis_20131202", "StartStreamEncryption", b_start_encryption, r_empty},
	{"Kinesis_20131202", "StopStreamEncryption", b_stop_encryption, r_empty},
	{"Kinesis_20131202", "EnableEnhancedMonitoring", b_enable_monitoring, r_monitoring},
	{"Kinesis_20131202", "DisableEnhancedMonitoring", b_disable_monitoring, r_monitoring},
	{"Kinesis_20131202", "DescribeLimits", b_describe_limits, r_describe_limits},
	{"Kinesis_20131202", "ListStreamConsumers", b_list_consumers, r_list_consumers},
	{"Kinesis_20131202", "DescribeAccountSettings", b_describe_account, r_account},
	{"Kinesis_20131202", "UpdateAccountSettings", b_update_account, r_account},
	{"Kinesis_20131202", "UpdateMaxRecordSize", b_update_record_size, r_empty},
	{"Kinesis_20131202", "UpdateStreamWarmThroughput", b_update_warm_throughput, r_empty},
	{NULL}
};
