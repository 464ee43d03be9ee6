/*
 * ops_kinesis_channels.c - the channel operations of the Kinesis API
 * (CreateChannel, DescribeChannel, UpdateChannel, DeleteChannel,
 * ListChannels).  A channel delivers a stream to Amazon S3 or S3 Tables,
 * neither of which exists here, so no channel can exist: the answers say so
 * truthfully (an empty list; ResourceNotFoundException for any channel) and
 * CreateChannel is refused with a pointer to what does deliver a stream to
 * tables and files here, Firehose delivery streams.  Required members are
 * checked first, as the other operations do, so a malformed request gets
 * the ValidationException it would get from Kinesis.  No database query:
 * there is nothing to read.  Event-loop thread only.
 */
#include "ops.h"

#include <string.h>

/* A required member that must be a JSON array (or CBOR list). */
static bool
in_array(json_object *in, const char *key, gw_err *e)
{
	json_object *v;

	if (!json_object_object_get_ex(in, key, &v) || v == NULL)
		return op_fail(e, "ValidationException",
					   "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null",
					   key);
	if (!json_object_is_type(v, json_type_array))
		return op_fail(e, "SerializationException", "%s must be a list", key);
	return true;
}

static bool
b_create_channel(gw_request *r, json_object *in, gw_err *e)
{
	const char *name,
			   *role;

	if (!in_req(in, "ChannelName", &name, e) || !in_req(in, "ServiceExecutionRoleARN", &role, e) ||
		!in_array(in, "StreamConfigurationList", e))
		return false;
	return op_fail(e, "InvalidArgumentException",
				   "channel \"%.200s\" cannot be created: channels deliver to Amazon S3 or S3 Tables, which do not exist here; "
				   "destinations here are tables and files, reached by Firehose delivery streams: "
				   "create one reading the stream with firehose.create_delivery_stream() in SQL",
				   name);
}

/* DescribeChannel, UpdateChannel, DeleteChannel: no channel exists. */
static bool
b_channel(gw_request *r, json_object *in, gw_err *e)
{
	const char *arn;

	if (!in_req(in, "ChannelARN", &arn, e))
		return false;
	return op_fail(e, "ResourceNotFoundException",
				   "channel %.300s not found: no channel exists here (channels deliver to Amazon S3, "
				   "which does not exist here; Firehose delivery streams deliver to tables and files)",
				   arn);
}

static bool
b_list_channels(gw_request *r, json_object *in, gw_err *e)
{
	json_object *f;
	int			max;

	if (!in_limit(in, "MaxResults", "maxResults", 100, 10000, &max, e))
		return false;
	if (json_object_object_get_ex(in, "StreamFilter", &f) && f && !json_object_is_type(f, json_type_array))
		return op_fail(e, "SerializationException", "StreamFilter must be a list");
	/* an empty list hands out no NextToken, so none can be valid */
	if (in_str(in, "NextToken"))
		return op_fail(e, "InvalidArgumentException", "NextToken is not valid: no listing of channels has more pages");
	return true;
}

static json_object *
r_list_channels(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ChannelSummaries", json_object_new_array());
	return o;
}

const gw_op gw_kinesis_channel_ops[] = {
	{"Kinesis_20131202", "CreateChannel", b_create_channel, r_empty},
	{"Kinesis_20131202", "DescribeChannel", b_channel, r_empty},
	{"Kinesis_20131202", "UpdateChannel", b_channel, r_empty},
	{"Kinesis_20131202", "DeleteChannel", b_channel, r_empty},
	{"Kinesis_20131202", "ListChannels", b_list_channels, r_list_channels},
	{NULL}
};
