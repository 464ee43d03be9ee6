/*
 * ops_routing.c - the SQL of the Data Streams operations whose statements
 * depend on the routing setting.  routing = local runs kinesis.* on the
 * gateway's database; routing = cluster runs kinesis_cluster.* on the proxy
 * database of kinesis_glue_cluster, which sends each call to the node(s)
 * holding the shards (README "Scaling out"): puts by its placement catalog,
 * reads by the node the iterator names, listings merged over the nodes.
 *
 * gw_sql[query][routing] picks a statement by index, so the local
 * statements are the same static text as before (prepared once per
 * connection) and cost one array lookup more.  A cluster statement returns
 * the columns the operation's reply reads from the local one, in the same
 * order.  Operations kinesis_cluster does not offer are refused by
 * gw_op_routed before anything runs.
 *
 * Event-loop thread only; the tables are read-only.
 */
#include "ops.h"

#include <string.h>

/* the streams after $1, at most $2 (+ 1: is there more) */
#define LIST_STREAMS_SQL(schema) "SELECT stream_name, stream_status, stream_mode, " \
	"extract(epoch FROM stream_creation_timestamp) FROM " schema ".list_streams() " \
	"WHERE $1::text IS NULL OR stream_name COLLATE \"C\" > $1 " \
	"ORDER BY stream_name COLLATE \"C\" LIMIT least(greatest(coalesce($2::integer, 100), 1), 10000) + 1"

/* SELECT list of the summary (summary_fields and r_summary read it by position) */
#define SUMMARY_COLS "SELECT stream_name, stream_status, stream_mode, " \
	"(extract(epoch FROM retention_period) / 3600)::integer, open_shard_count, consumer_count, " \
	"extract(epoch FROM stream_creation_timestamp), "

/* the shards of $1, after shard $2, open only when $3, at most $4 (+ 1: is there more) */
#define SHARDS_SQL(schema) "SELECT shard_id, parent_shard_id, adjacent_parent_shard_id, starting_hash_key::text, " \
	"ending_hash_key::text, starting_sequence_number::text, ending_sequence_number::text " \
	"FROM " schema ".list_shards($1) WHERE ($2::text IS NULL OR shard_id > $2) " \
	"AND (NOT coalesce($3::boolean, false) OR ending_sequence_number IS NULL) " \
	"ORDER BY shard_id LIMIT least(greatest(coalesce($4::integer, 1000), 1), 10000) + 1"

#define PUT_RECORDS_COLS "SELECT shard_id, sequence_number::text, error_code, error_message FROM "

/* the columns of a_get_records, from get_records_rows or their equivalent */
#define GET_RECORDS_COLS "g.next_shard_iterator, g.millis_behind_latest::text, array_to_string(g.child_shards, ','), " \
	"g.sequence_number::text, extract(epoch FROM g.approximate_arrival_timestamp)::text, g.partition_key, g.data"

const gw_sql_variant gw_sql[GW_Q_COUNT][2] = {
	[GW_Q_CREATE_STREAM] = {
		{"SELECT kinesis.create_stream($1, $2::integer, coalesce($3, 'PROVISIONED'))", 3},
		/* stream modes, tags and strategies are refused before (b_create_stream) */
		{"SELECT kinesis_cluster.create_stream($1, $2::integer)", 2}},
	[GW_Q_DELETE_STREAM] = {
		{"SELECT kinesis.delete_stream($1, coalesce($2::boolean, false))", 2},
		/* consumers are not routed: a node's own consumers make its delete fail */
		{"SELECT kinesis_cluster.delete_stream($1)", 1}},
	[GW_Q_LIST_STREAMS] = {
		{LIST_STREAMS_SQL("kinesis"), 2},
		{LIST_STREAMS_SQL("kinesis_cluster"), 2}},
	[GW_Q_SUMMARY] = {
		{SUMMARY_COLS "st.encryption_type, st.key_id, "
			"array_to_json(st.shard_level_metrics)::text, st.record_distribution_strategy "
			"FROM kinesis.describe_stream_summary($1) CROSS JOIN kinesis.describe_stream_settings($1) st", 1},

		/*
		 * the nodes' summaries added up; encryption and monitoring are each
		 * node's own (not routed), so they are left out (NULL), and a
		 * cluster stream distributes by partition key (NULL strategy, as
		 * PROVISIONED streams have)
		 */
		{SUMMARY_COLS "NULL::text, NULL::text, NULL::text, NULL::text "
			"FROM kinesis_cluster.describe_stream_summary($1)", 1}},
	[GW_Q_SHARDS] = {
		{SHARDS_SQL("kinesis"), 4},
		{SHARDS_SQL("kinesis_cluster"), 4}},
	[GW_Q_PUT_RECORD] = {
		{"SELECT shard_id, sequence_number::text FROM "
			"kinesis.put_record($1, $2, decode($3, 'base64'), $4::numeric, $5::bigint)", 5},

		/*
		 * SequenceNumberForOrdering is not passed: a partition key always
		 * goes to one shard, whose sequence numbers increase anyway
		 */
		{"SELECT shard_id, sequence_number::text FROM "
			"kinesis_cluster.put_record($1, $2, decode($3, 'base64'), $4::numeric)", 4}},
	[GW_Q_PUT_RECORDS] = {
		{PUT_RECORDS_COLS "kinesis.put_records($1, $2::text[], $3::bytea[])", 1},
		{PUT_RECORDS_COLS "kinesis_cluster.put_records($1, $2::text[], $3::bytea[])", 1}},
	[GW_Q_PUT_RECORDS_HASH] = {
		{PUT_RECORDS_COLS "kinesis.put_records($1, ARRAY(SELECT ROW(t.k, t.d, t.h::numeric)::kinesis.put_records_entry "
			"FROM unnest($2::text[], $3::bytea[], $4::text[]) WITH ORDINALITY AS t(k, d, h, n) ORDER BY t.n))", 1},
		{PUT_RECORDS_COLS "kinesis_cluster.put_records($1, $2::text[], $3::bytea[], $4::text[]::numeric[])", 1}},
	[GW_Q_GET_SHARD_ITERATOR] = {
		{"SELECT kinesis.get_shard_iterator($1, $2, $3, $4::bigint, to_timestamp($5::float8))", 5},
		/* the iterator names the node: GetRecords passes it back to the proxy */
		{"SELECT kinesis_cluster.get_shard_iterator($1, $2, $3, $4::bigint, to_timestamp($5::float8))", 5}},
	[GW_Q_GET_RECORDS] = {
		{"SELECT " GET_RECORDS_COLS ", CASE WHEN g.child_shards IS NOT NULL THEN " CHILDREN_SQL " END "
			"FROM kinesis.get_records_rows($1, coalesce($2::integer, 10000)) g", 2},

		/*
		 * the same rows from kinesis_cluster.get_records (called once): a
		 * row per record, then the iterator's; the children by name only
		 * (column 7 NULL: no kinesis.child_shards on the proxy)
		 */
		{"WITH c AS MATERIALIZED (SELECT * FROM kinesis_cluster.get_records($1, coalesce($2::integer, 10000))) "
			"SELECT " GET_RECORDS_COLS ", NULL::text FROM ("
			"SELECT NULL::text AS next_shard_iterator, NULL::bigint AS millis_behind_latest, "
			"NULL::text[] AS child_shards, r.sequence_number, r.approximate_arrival_timestamp, "
			"r.partition_key, r.data, r.n "
			"FROM c, unnest(c.records) WITH ORDINALITY AS r(shard_id, sequence_number, "
			"approximate_arrival_timestamp, partition_key, data, n) "
			"UNION ALL SELECT c.next_shard_iterator, c.millis_behind_latest, c.child_shards, "
			"NULL, NULL, NULL, NULL, 9223372036854775807 FROM c) g ORDER BY g.n", 2}},
	[GW_Q_SPLIT_SHARD] = {
		{"SELECT kinesis.split_shard($1, $2, $3::numeric)", 3},
		{"SELECT kinesis_cluster.split_shard($1, $2, $3::numeric)", 3}},
	[GW_Q_MERGE_SHARDS] = {
		{"SELECT kinesis.merge_shards($1, $2, $3)", 3},
		{"SELECT kinesis_cluster.merge_shards($1, $2, $3)", 3}},
};

/* The Data Streams operations kinesis_cluster offers (the others are refused). */
static const char *const cluster_ops[] = {
	"CreateStream", "DeleteStream", "ListStreams", "DescribeStreamSummary", "DescribeStream",
	"ListShards", "PutRecord", "PutRecords", "GetShardIterator", "GetRecords", "SplitShard",
	"MergeShards", NULL
};

/*
 * True when op can run with the configured routing; else false with
 * InvalidArgumentException in e, saying why.
 */
bool
gw_op_routed(const gw_op *op, gw_err *e)
{
	if (gw_conf->routing == GW_ROUTING_LOCAL)
		return true;
	if (strcmp(op->service, "Kinesis_20131202") == 0)
		for (int i = 0; cluster_ops[i]; i++)
			if (strcmp(op->name, cluster_ops[i]) == 0)
				return true;
	return op_fail(e, "InvalidArgumentException",
				   "%s is not available through a gateway in routing = cluster mode: kinesis_cluster routes "
				   "only the streams, shards, puts and reads of Data Streams (CreateStream, DeleteStream, "
				   "ListStreams, DescribeStream(Summary), ListShards, PutRecord(s), GetShardIterator, "
				   "GetRecords, SplitShard, MergeShards); use a gateway with routing = local on a node",
				   op->name);
}
