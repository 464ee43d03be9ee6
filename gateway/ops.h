/*
 * ops.h - helpers shared by the operation files (ops_util.c, ops_*.c).
 * Event-loop thread only.
 */
#ifndef GW_OPS_H
#define GW_OPS_H

#include "gw.h"

#define NAMELEN 256

/* Declare char stream[NAMELEN] from StreamName / StreamARN, or fail. */
#define STREAM(in) \
	char stream[NAMELEN]; \
	if (!in_stream(in, stream, sizeof(stream), e)) return false

bool		op_fail(gw_err *e, const char *type, const char *fmt,...) __attribute__((format(printf, 3, 4)));
const char *in_str(json_object *in, const char *key);
bool		in_num(json_object *in, const char *key, char *buf, size_t buflen, const char **out, gw_err *e);
const char *in_bool(json_object *in, const char *key);
bool		in_limit(json_object *in, const char *key, const char *path, int def, int max, int *out, gw_err *e);
bool		in_req(json_object *in, const char *key, const char **out, gw_err *e);
bool		in_stream(json_object *in, char *buf, size_t buflen, gw_err *e);
bool		in_consumer(json_object *in, char *stream, size_t slen, char *consumer, size_t clen, gw_err *e);
void		stream_arn(const char *name, char *buf, size_t buflen);
bool		check_blob(const char *key, const char *v, gw_err *e);
char	   *bytea_to_base64(const char *hexval);
void		add_str(json_object *o, const char *key, const char *v);
void		add_col(json_object *o, const char *key, PGresult *res, int row, int col);
void		add_epoch(json_object *o, const char *key, PGresult *res, int row, int col);
void		add_int(json_object *o, const char *key, PGresult *res, int row, int col);
/* the ChildShards of the shard iterator $1 as JSON text, a scalar subquery */
#define CHILDREN_SQL "(SELECT json_agg(json_build_object('ShardId', x.shard_id, 'ParentShards', x.parent_shards, " \
	"'HashKeyRange', json_build_object('StartingHashKey', x.starting_hash_key::text, " \
	"'EndingHashKey', x.ending_hash_key::text)) ORDER BY x.shard_id)::text FROM kinesis.child_shards($1) x)"

/* The statements that depend on the routing setting (ops_routing.c). */
typedef struct gw_sql_variant
{
	const char *sql;
	int			nparams;		/* the first nparams arguments of ROUTED_QUERY */
} gw_sql_variant;

enum
{
	GW_Q_CREATE_STREAM, GW_Q_DELETE_STREAM, GW_Q_LIST_STREAMS, GW_Q_SUMMARY, GW_Q_SHARDS,
	GW_Q_PUT_RECORD, GW_Q_PUT_RECORDS, GW_Q_PUT_RECORDS_HASH, GW_Q_GET_SHARD_ITERATOR,
	GW_Q_GET_RECORDS, GW_Q_SPLIT_SHARD, GW_Q_MERGE_SHARDS, GW_Q_COUNT
};

extern const gw_sql_variant gw_sql[GW_Q_COUNT][2];

/*
 * Add query q of the configured routing; its statement takes the first
 * nparams of the arguments (the others are ignored: a routing whose
 * function has fewer parameters drops the trailing ones).
 */
#define ROUTED_QUERY(r, q, ...) \
	gw_query_add(r, gw_sql[q][gw_conf->routing].sql, gw_sql[q][gw_conf->routing].nparams, __VA_ARGS__)
#define ROUTED_CLUSTER (gw_conf->routing == GW_ROUTING_CLUSTER)

json_object *r_empty(gw_request *r, json_object *in, PGresult **res, gw_err *e);
json_object *consumer_json(const char *stream, PGresult *res, int row, bool with_stream);
void		add_stream_settings(json_object *d, PGresult *res, int col);
bool		check_record_size(json_object *in, bool required, gw_err *e);

bool		b_put_records(gw_request *r, json_object *in, gw_err *e);
bool		p_put_records(gw_request *r);
bool		a_put_records(gw_request *r, json_object *in, PGresult **res, gw_out *o, gw_err *e);
bool		b_get_records(gw_request *r, json_object *in, gw_err *e);
bool		a_get_records(gw_request *r, json_object *in, PGresult **res, gw_out *o, gw_err *e);

extern const gw_op gw_kinesis_ops[];
extern const gw_op gw_kinesis_meta_ops[];
extern const gw_op gw_kinesis_channel_ops[];
extern const gw_op gw_firehose_ops[];

#endif
