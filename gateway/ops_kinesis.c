/*
 * ops_kinesis.c - the Kinesis Data Streams operations: each builds the
 * queries of kinesis.* SQL functions from the request and composes the
 * Kinesis response from their rows (kinesis_cluster.* with routing =
 * cluster: the statements that differ are in ops_routing.c).  Timestamps
 * are selected as epoch seconds and bytea as hex (GetRecords: binary), so
 * the session's DateStyle and bytea_output do not matter.  PutRecords is
 * in ops_put.c, GetRecords in ops_get.c.
 * Event-loop thread only.
 */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- control plane ---- */

/*
 * What CreateStream may ask of kinesis_cluster.create_stream: a PROVISIONED
 * stream (shards spread over the nodes' home ranges) distributed by
 * partition key, without tags (tags and strategies are each node's own and
 * not routed).  False with the reason in e otherwise.
 */
static bool
cluster_create_check(json_object *in, const char *mode, gw_err *e)
{
	json_object *v;

	if (mode && strcmp(mode, "PROVISIONED") != 0)
		return op_fail(e, "InvalidArgumentException",
					   "stream mode %.40s is not available through a gateway in routing = cluster mode: "
					   "a cluster stream is PROVISIONED, its shards spread over the nodes", mode);
	if (json_object_object_get_ex(in, "RecordDistributionStrategy", &v) && v &&
		strcmp(json_object_get_string(v), "USER_PARTITION_KEY") != 0)
		return op_fail(e, "InvalidArgumentException",
					   "RecordDistributionStrategy is not available through a gateway in routing = cluster mode: "
					   "records go to nodes by partition key");
	if (json_object_object_get_ex(in, "Tags", &v) && v && json_object_is_type(v, json_type_object) &&
		json_object_object_length(v) > 0)
		return op_fail(e, "InvalidArgumentException",
					   "Tags are not available through a gateway in routing = cluster mode: "
					   "kinesis_cluster does not route tags");
	return true;
}

static bool
b_create_stream(gw_request *r, json_object *in, gw_err *e)
{
	const char *name,
			   *count,
			   *mode = NULL;
	char		nb[32];
	json_object *md;

	if (!in_req(in, "StreamName", &name, e) || !in_num(in, "ShardCount", nb, sizeof(nb), &count, e))
		return false;
	if (json_object_object_get_ex(in, "StreamModeDetails", &md) && md)
		mode = in_str(md, "StreamMode");
	if (!check_record_size(in, false, e))
		return false;
	if (json_object_object_get_ex(in, "WarmThroughputMiBps", &md) && md)
		return op_fail(e, "InvalidArgumentException",
					   "warm throughput is not supported: kinesis_glue streams are not provisioned by throughput");
	if (ROUTED_CLUSTER && !cluster_create_check(in, mode, e))
		return false;
	ROUTED_QUERY(r, GW_Q_CREATE_STREAM, name, count, mode);

	/*
	 * RecordDistributionStrategy: set in the same transaction (create_stream
	 * keeps the signature DESIGN.md fixes); USER_PARTITION_KEY is what a new
	 * stream has, so only AUTO needs the call, which refuses PROVISIONED
	 */
	if (json_object_object_get_ex(in, "RecordDistributionStrategy", &md) && md)
	{
		const char *strategy = json_object_get_string(md);

		if (strcmp(strategy, "USER_PARTITION_KEY") != 0)
			gw_query_add(r, "SELECT kinesis.update_stream_record_distribution_strategy($1, $2)", 2,
						 name, strategy);
	}
	/* Tags take effect with the stream: the same transaction */
	if (json_object_object_get_ex(in, "Tags", &md) && md)
	{
		if (!json_object_is_type(md, json_type_object))
			return op_fail(e, "SerializationException", "Tags must be a map of strings");
		if (json_object_object_length(md) > 0)
			gw_query_add(r, "SELECT kinesis.add_tags_to_stream($1, $2::jsonb)", 2, name,
						 json_object_to_json_string_ext(md, JSON_C_TO_STRING_PLAIN));
	}
	return true;
}

static bool
b_delete_stream(gw_request *r, json_object *in, gw_err *e)
{
	STREAM(in);
	ROUTED_QUERY(r, GW_Q_DELETE_STREAM, stream, in_bool(in, "EnforceConsumerDeletion"));
	return true;
}

static bool
b_list_streams(gw_request *r, json_object *in, gw_err *e)
{
	char		nb[32];
	const char *limit,
			   *start = in_str(in, "ExclusiveStartStreamName"),
			   *token = in_str(in, "NextToken");
	char	   *after = NULL;

	if (!in_num(in, "Limit", nb, sizeof(nb), &limit, e))
		return false;
	if (token)
	{
		size_t		l;
		unsigned char *t = gw_base64_decode(token, &l);

		if (!t)
			return op_fail(e, "InvalidArgumentException", "NextToken is not valid");
		after = strndup((char *) t, l);
		free(t);
	}
	ROUTED_QUERY(r, GW_Q_LIST_STREAMS, after ? after : start, limit);
	free(after);
	return true;
}

static json_object *
mode_details(const char *mode)
{
	json_object *m = json_object_new_object();

	add_str(m, "StreamMode", mode);
	return m;
}

static json_object *
r_list_streams(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object(),
			   *names = json_object_new_array(),
			   *sums = json_object_new_array();
	char		nb[32];
	const char *limit;
	int			max,
				n = PQntuples(res[0]);
	char		arn[600];

	in_num(in, "Limit", nb, sizeof(nb), &limit, e);
	max = limit ? atoi(limit) : 100;
	if (max < 1)
		max = 1;
	for (int i = 0; i < n && i < max; i++)
	{
		json_object *s = json_object_new_object();

		json_object_array_add(names, json_object_new_string(PQgetvalue(res[0], i, 0)));
		add_col(s, "StreamName", res[0], i, 0);
		stream_arn(PQgetvalue(res[0], i, 0), arn, sizeof(arn));
		add_str(s, "StreamARN", arn);
		add_col(s, "StreamStatus", res[0], i, 1);
		json_object_object_add(s, "StreamModeDetails", mode_details(PQgetvalue(res[0], i, 2)));
		add_epoch(s, "StreamCreationTimestamp", res[0], i, 3);
		json_object_array_add(sums, s);
	}
	json_object_object_add(o, "StreamNames", names);
	json_object_object_add(o, "HasMoreStreams", json_object_new_boolean(n > max));
	json_object_object_add(o, "StreamSummaries", sums);
	if (n > max)
	{
		const char *last = PQgetvalue(res[0], max - 1, 0);
		char	   *t = gw_base64_encode((const unsigned char *) last, strlen(last));

		add_str(o, "NextToken", t);
		free(t);
	}
	return o;
}

static bool
b_summary(gw_request *r, json_object *in, gw_err *e)
{
	STREAM(in);
	ROUTED_QUERY(r, GW_Q_SUMMARY, stream);
	return true;
}

/* Fill the members DescribeStream and DescribeStreamSummary share. */
static bool
summary_fields(json_object *d, PGresult *res, gw_err *e)
{
	char		arn[600];

	if (PQntuples(res) != 1)
		return op_fail(e, "ResourceNotFoundException", "stream not found");
	add_col(d, "StreamName", res, 0, 0);
	stream_arn(PQgetvalue(res, 0, 0), arn, sizeof(arn));
	add_str(d, "StreamARN", arn);
	add_col(d, "StreamStatus", res, 0, 1);
	json_object_object_add(d, "StreamModeDetails", mode_details(PQgetvalue(res, 0, 2)));
	add_int(d, "RetentionPeriodHours", res, 0, 3);
	add_epoch(d, "StreamCreationTimestamp", res, 0, 6);
	add_stream_settings(d, res, 7);
	return true;
}

static json_object *
r_summary(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object(),
			   *d = json_object_new_object();

	json_object_object_add(o, "StreamDescriptionSummary", d);
	if (!summary_fields(d, res[0], e))
	{
		json_object_put(o);
		return NULL;
	}
	add_int(d, "OpenShardCount", res[0], 0, 4);
	add_int(d, "ConsumerCount", res[0], 0, 5);
	json_object_object_add(d, "MaxRecordSizeInKiB", json_object_new_int(1024));
	/* channels cannot exist here (ops_kinesis_channels.c) */
	json_object_object_add(d, "ChannelCount", json_object_new_int(0));
	/* ON_DEMAND streams only, as in the API model (NULL otherwise) */
	if (!PQgetisnull(res[0], 0, 10))
		add_col(d, "RecordDistributionStrategy", res[0], 0, 10);
	return o;
}

/* Shards as Kinesis lists them; *more when the limit cut the list. */
static json_object *
shards_json(PGresult *res, int max, bool *more)
{
	json_object *a = json_object_new_array();
	int			n = PQntuples(res);

	for (int i = 0; i < n && i < max; i++)
	{
		json_object *s = json_object_new_object(),
				   *h = json_object_new_object(),
				   *q = json_object_new_object();

		add_col(s, "ShardId", res, i, 0);
		add_col(s, "ParentShardId", res, i, 1);
		add_col(s, "AdjacentParentShardId", res, i, 2);
		add_col(h, "StartingHashKey", res, i, 3);
		add_col(h, "EndingHashKey", res, i, 4);
		json_object_object_add(s, "HashKeyRange", h);
		add_col(q, "StartingSequenceNumber", res, i, 5);
		add_col(q, "EndingSequenceNumber", res, i, 6);
		json_object_object_add(s, "SequenceNumberRange", q);
		json_object_array_add(a, s);
	}
	*more = n > max;
	return a;
}

static bool
b_describe_stream(gw_request *r, json_object *in, gw_err *e)
{
	char		nb[32];
	const char *limit;

	STREAM(in);
	if (!in_num(in, "Limit", nb, sizeof(nb), &limit, e))
		return false;
	ROUTED_QUERY(r, GW_Q_SUMMARY, stream);
	ROUTED_QUERY(r, GW_Q_SHARDS, stream, in_str(in, "ExclusiveStartShardId"), NULL, limit ? limit : "100");
	return true;
}

static json_object *
r_describe_stream(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object(),
			   *d = json_object_new_object();
	char		nb[32];
	const char *limit;
	bool		more;
	int			max;

	json_object_object_add(o, "StreamDescription", d);
	if (!summary_fields(d, res[0], e))
	{
		json_object_put(o);
		return NULL;
	}
	in_num(in, "Limit", nb, sizeof(nb), &limit, e);
	max = limit ? atoi(limit) : 100;
	max = max < 1 ? 1 : max > 10000 ? 10000 : max;
	json_object_object_add(d, "Shards", shards_json(res[1], max, &more));
	json_object_object_add(d, "HasMoreShards", json_object_new_boolean(more));
	return o;
}

static bool
b_list_shards(gw_request *r, json_object *in, gw_err *e)
{
	char		nb[32],
				stream[NAMELEN] = "";
	const char *limit,
			   *token = in_str(in, "NextToken"),
			   *after = in_str(in, "ExclusiveStartShardId");
	const char *open_only = NULL;
	char	   *tok = NULL;
	json_object *f;

	if (!in_num(in, "MaxResults", nb, sizeof(nb), &limit, e))
		return false;
	if (token)
	{
		size_t		l;
		unsigned char *t = gw_base64_decode(token, &l);
		char	   *nl;

		if (!t || !(nl = memchr(t, '\n', l)) || (size_t) (nl - (char *) t) >= sizeof(stream))
		{
			free(t);
			return op_fail(e, "InvalidArgumentException", "NextToken is not valid");
		}
		tok = strndup((char *) t, l);
		free(t);
		tok[nl - (char *) t] = '\0';
		strcpy(stream, tok);
		after = tok + strlen(tok) + 1;
	}
	else if (!in_stream(in, stream, sizeof(stream), e))
		return false;
	if (json_object_object_get_ex(in, "ShardFilter", &f) && f)
	{
		const char *type = in_str(f, "Type");
		const char *sid = in_str(f, "ShardId");

		if (!type)
			type = "";
		if (strcmp(type, "AT_LATEST") == 0)
			open_only = "true";
		else if (strcmp(type, "AFTER_SHARD_ID") == 0 && sid)
			after = sid;
		else if (strcmp(type, "AT_TRIM_HORIZON") != 0 && strcmp(type, "FROM_TRIM_HORIZON") != 0)
		{
			free(tok);
			return op_fail(e, "InvalidArgumentException",
						   "ShardFilter type \"%.40s\" is not supported by this gateway", type);
		}
	}
	ROUTED_QUERY(r, GW_Q_SHARDS, stream, after, open_only, limit);
	free(tok);
	/* the stream name for the next token */
	gw_query_add(r, "SELECT $1::text", 1, stream);
	return true;
}

static json_object *
r_list_shards(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();
	char		nb[32];
	const char *limit;
	bool		more;
	int			max;

	in_num(in, "MaxResults", nb, sizeof(nb), &limit, e);
	max = limit ? atoi(limit) : 1000;
	max = max < 1 ? 1 : max > 10000 ? 10000 : max;
	json_object_object_add(o, "Shards", shards_json(res[0], max, &more));
	if (more)
	{
		char		buf[600];
		char	   *t;

		snprintf(buf, sizeof(buf), "%s\n%s", PQgetvalue(res[1], 0, 0), PQgetvalue(res[0], max - 1, 0));
		t = gw_base64_encode((unsigned char *) buf, strlen(buf));
		add_str(o, "NextToken", t);
		free(t);
	}
	return o;
}

static bool
b_split_shard(gw_request *r, json_object *in, gw_err *e)
{
	const char *shard,
			   *key;

	STREAM(in);
	if (!in_req(in, "ShardToSplit", &shard, e) || !in_req(in, "NewStartingHashKey", &key, e))
		return false;
	ROUTED_QUERY(r, GW_Q_SPLIT_SHARD, stream, shard, key);
	return true;
}

static bool
b_merge_shards(gw_request *r, json_object *in, gw_err *e)
{
	const char *a,
			   *b;

	STREAM(in);
	if (!in_req(in, "ShardToMerge", &a, e) || !in_req(in, "AdjacentShardToMerge", &b, e))
		return false;
	ROUTED_QUERY(r, GW_Q_MERGE_SHARDS, stream, a, b);
	return true;
}

static bool
b_update_shard_count(gw_request *r, json_object *in, gw_err *e)
{
	char		nb[32];
	const char *target;

	STREAM(in);
	if (!in_num(in, "TargetShardCount", nb, sizeof(nb), &target, e))
		return false;
	if (!target)
		return op_fail(e, "ValidationException", "TargetShardCount must be given");
	gw_query_add(r, "SELECT open_shard_count, stream_name FROM kinesis.describe_stream_summary($1)", 1, stream);
	gw_query_add(r, "SELECT kinesis.update_shard_count($1, $2::integer, coalesce($3, 'UNIFORM_SCALING')), $2",
				 3, stream, target, in_str(in, "ScalingType"));
	return true;
}

static json_object *
r_update_shard_count(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();
	char		arn[600];

	add_col(o, "StreamName", res[0], 0, 1);
	stream_arn(PQgetvalue(res[0], 0, 1), arn, sizeof(arn));
	add_str(o, "StreamARN", arn);
	add_int(o, "CurrentShardCount", res[0], 0, 0);
	add_int(o, "TargetShardCount", res[1], 0, 1);
	return o;
}

static bool
b_update_stream_mode(gw_request *r, json_object *in, gw_err *e)
{
	json_object *md;
	const char *mode = NULL;

	STREAM(in);
	if (json_object_object_get_ex(in, "StreamModeDetails", &md) && md)
		mode = in_str(md, "StreamMode");
	if (!mode)
		return op_fail(e, "ValidationException", "StreamModeDetails.StreamMode must be given");
	gw_query_add(r, "SELECT kinesis.update_stream_mode($1, $2)", 2, stream, mode);
	return true;
}

static bool
b_update_distribution(gw_request *r, json_object *in, gw_err *e)
{
	const char *strategy;

	STREAM(in);
	if (!in_req(in, "RecordDistributionStrategy", &strategy, e))
		return false;
	gw_query_add(r, "SELECT kinesis.update_stream_record_distribution_strategy($1, $2)", 2, stream, strategy);
	return true;
}

static bool
retention(gw_request *r, json_object *in, gw_err *e, const char *sql)
{
	char		nb[32];
	const char *hours;

	STREAM(in);
	if (!in_num(in, "RetentionPeriodHours", nb, sizeof(nb), &hours, e))
		return false;
	if (!hours)
		return op_fail(e, "ValidationException", "RetentionPeriodHours must be given");
	gw_query_add(r, sql, 2, stream, hours);
	return true;
}

static bool
b_increase_retention(gw_request *r, json_object *in, gw_err *e)
{
	return retention(r, in, e, "SELECT kinesis.increase_stream_retention_period($1, make_interval(hours => $2::integer))");
}

static bool
b_decrease_retention(gw_request *r, json_object *in, gw_err *e)
{
	return retention(r, in, e, "SELECT kinesis.decrease_stream_retention_period($1, make_interval(hours => $2::integer))");
}

/* ---- data plane ---- */

static bool
b_put_record(gw_request *r, json_object *in, gw_err *e)
{
	const char *key,
			   *data,
			   *ehk = in_str(in, "ExplicitHashKey"),
			   *sfo = in_str(in, "SequenceNumberForOrdering");

	STREAM(in);
	/* PartitionKey may be missing (AUTO streams): put_record decides */
	key = in_str(in, "PartitionKey");
	if (!in_req(in, "Data", &data, e) || !check_blob("Data", data, e))
		return false;
	ROUTED_QUERY(r, GW_Q_PUT_RECORD, stream, key, data, ehk, sfo);
	return true;
}

static json_object *
r_put_record(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();

	add_col(o, "ShardId", res[0], 0, 0);
	add_col(o, "SequenceNumber", res[0], 0, 1);
	add_str(o, "EncryptionType", "NONE");
	return o;
}

static bool
b_get_shard_iterator(gw_request *r, json_object *in, gw_err *e)
{
	const char *shard,
			   *type,
			   *ts;
	char		nb[40];

	STREAM(in);
	if (!in_req(in, "ShardId", &shard, e) || !in_req(in, "ShardIteratorType", &type, e) ||
		!in_num(in, "Timestamp", nb, sizeof(nb), &ts, e))
		return false;
	ROUTED_QUERY(r, GW_Q_GET_SHARD_ITERATOR, stream, shard, type, in_str(in, "StartingSequenceNumber"), ts);
	return true;
}

static json_object *
r_get_shard_iterator(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();

	add_col(o, "ShardIterator", res[0], 0, 0);
	return o;
}

/* ---- consumers ---- */

#define CONSUMER_SQL "SELECT consumer_name, consumer_status, " \
	"extract(epoch FROM consumer_creation_timestamp) FROM kinesis.list_stream_consumers($1) " \
	"WHERE $2::text IS NULL OR consumer_name = $2 ORDER BY consumer_name"

/* A consumer row as Kinesis describes it. */
json_object *
consumer_json(const char *stream, PGresult *res, int row, bool with_stream)
{
	json_object *c = json_object_new_object();
	char		arn[600],
				carn[900];

	stream_arn(stream, arn, sizeof(arn));
	snprintf(carn, sizeof(carn), "%s/consumer/%s:%lld", arn, PQgetvalue(res, row, 0),
			 (long long) strtod(PQgetvalue(res, row, 2), NULL));
	add_col(c, "ConsumerName", res, row, 0);
	add_str(c, "ConsumerARN", carn);
	add_col(c, "ConsumerStatus", res, row, 1);
	add_epoch(c, "ConsumerCreationTimestamp", res, row, 2);
	if (with_stream)
		add_str(c, "StreamARN", arn);
	return c;
}

static bool
b_register_consumer(gw_request *r, json_object *in, gw_err *e)
{
	const char *name;

	STREAM(in);
	if (!in_req(in, "ConsumerName", &name, e))
		return false;
	gw_query_add(r, "SELECT kinesis.register_stream_consumer($1, $2)", 2, stream, name);
	gw_query_add(r, CONSUMER_SQL, 2, stream, name);
	gw_query_add(r, "SELECT $1::text", 1, stream);
	return true;
}

static json_object *
r_register_consumer(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();

	if (PQntuples(res[1]) != 1)
	{
		json_object_put(o);
		op_fail(e, "ResourceNotFoundException", "the consumer disappeared");
		return NULL;
	}
	json_object_object_add(o, "Consumer", consumer_json(PQgetvalue(res[2], 0, 0), res[1], 0, false));
	return o;
}

static bool
b_consumer(gw_request *r, json_object *in, gw_err *e, bool deregister)
{
	char		stream[NAMELEN],
				consumer[NAMELEN];

	if (!in_consumer(in, stream, sizeof(stream), consumer, sizeof(consumer), e))
		return false;
	if (deregister)
		gw_query_add(r, "SELECT kinesis.deregister_stream_consumer($1, $2)", 2, stream, consumer);
	else
	{
		gw_query_add(r, CONSUMER_SQL, 2, stream, consumer);
		gw_query_add(r, "SELECT $1::text, $2::text", 2, stream, consumer);
	}
	return true;
}

static bool
b_deregister_consumer(gw_request *r, json_object *in, gw_err *e)
{
	return b_consumer(r, in, e, true);
}

static bool
b_describe_consumer(gw_request *r, json_object *in, gw_err *e)
{
	return b_consumer(r, in, e, false);
}

static json_object *
r_describe_consumer(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o;

	if (PQntuples(res[0]) != 1)
	{
		op_fail(e, "ResourceNotFoundException", "consumer \"%.200s\" of stream \"%.200s\" does not exist",
				PQgetvalue(res[1], 0, 1), PQgetvalue(res[1], 0, 0));
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "ConsumerDescription", consumer_json(PQgetvalue(res[1], 0, 0), res[0], 0, true));
	return o;
}

const gw_op gw_kinesis_ops[] = {
	{"Kinesis_20131202", "CreateStream", b_create_stream, r_empty},
	{"Kinesis_20131202", "DeleteStream", b_delete_stream, r_empty},
	{"Kinesis_20131202", "ListStreams", b_list_streams, r_list_streams},
	{"Kinesis_20131202", "DescribeStreamSummary", b_summary, r_summary},
	{"Kinesis_20131202", "DescribeStream", b_describe_stream, r_describe_stream},
	{"Kinesis_20131202", "ListShards", b_list_shards, r_list_shards},
	{"Kinesis_20131202", "PutRecord", b_put_record, r_put_record},
	{"Kinesis_20131202", "PutRecords", b_put_records, NULL, NULL, a_put_records, p_put_records},
	{"Kinesis_20131202", "GetShardIterator", b_get_shard_iterator, r_get_shard_iterator},
	{"Kinesis_20131202", "GetRecords", b_get_records, NULL, NULL, a_get_records},
	{"Kinesis_20131202", "SplitShard", b_split_shard, r_empty},
	{"Kinesis_20131202", "MergeShards", b_merge_shards, r_empty},
	{"Kinesis_20131202", "UpdateShardCount", b_update_shard_count, r_update_shard_count},
	{"Kinesis_20131202", "UpdateStreamMode", b_update_stream_mode, r_empty},
	{"Kinesis_20131202", "UpdateStreamRecordDistributionStrategy", b_update_distribution, r_empty},
	{"Kinesis_20131202", "IncreaseStreamRetentionPeriod", b_increase_retention, r_empty},
	{"Kinesis_20131202", "DecreaseStreamRetentionPeriod", b_decrease_retention, r_empty},
	{"Kinesis_20131202", "RegisterStreamConsumer", b_register_consumer, r_register_consumer},
	{"Kinesis_20131202", "DeregisterStreamConsumer", b_deregister_consumer, r_empty},
	{"Kinesis_20131202", "DescribeStreamConsumer", b_describe_consumer, r_describe_consumer},
	{"Kinesis_20131202", "SubscribeToShard", NULL, NULL, gw_sub_start},
	{NULL}
};
