/*
 * gw.h - kinesis_glue_gateway: shared types and entry points.
 *
 * The gateway is one single-threaded libevent loop.  Everything below runs on
 * that thread; nothing is locked.  Ownership: a gw_conn owns the requests it
 * received until they are answered; a request that is still in the PostgreSQL
 * pool when its client goes away is detached (conn = NULL) and freed by the
 * pool callback.
 */
#ifndef GW_H
#define GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#define GW_VERSION "0.1.0"
#define GW_MAX_QUERIES 6
#define GW_MAX_PARAMS 8

/* PostgreSQL type oids of binary parameters (pg_type.dat; stable) */
#define GW_TEXTOID 25
#define GW_BYTEAOID 17
#define GW_TEXTARRAYOID 1009
#define GW_BYTEAARRAYOID 1001

/* ---- configuration (config.c) ---- */
typedef struct gw_config
{
	char	   *listen_host;
	int			listen_port;
	char	   *conninfo;
	int			pool_size;
	bool		auth_sigv4;
	char	   *access_key_table;	/* schema-qualified, validated */
	int			key_cache_seconds;
	char	   *tls_cert;
	char	   *tls_key;
	char	   *region;
	char	   *account_id;
	int			log_level;
	int			request_log_level;
	size_t		max_body_bytes;
	int			max_connections;
	int			max_streams;
	int			client_timeout;
	int			request_timeout;
	int			max_queue;
	int			max_clock_skew;
	int			max_subscriptions;
	int			subscribe_seconds;
	int			routing;		/* GW_ROUTING_*: which SQL functions run */
} gw_config;

/* routing: kinesis.* on the gateway's database, or kinesis_cluster.* on a proxy */
enum
{
	GW_ROUTING_LOCAL, GW_ROUTING_CLUSTER
};

enum
{
	GW_LOG_DEBUG, GW_LOG_INFO, GW_LOG_WARN, GW_LOG_ERROR, GW_LOG_OFF
};

extern gw_config *gw_conf;
extern struct event_base *gw_base;

gw_config  *gw_config_load(const char *path, char **overrides, int noverrides, char *err, size_t errlen);
void		gw_config_free(gw_config *c);
void		gw_log(int level, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* ---- plain-socket reads and writes beside the bufferevent (sockio.c) ---- */
struct bufferevent;
void		gw_sock_fill(struct bufferevent *bev);
void		gw_sock_send(struct bufferevent *bev, const char *head, size_t head_len, char *body, size_t body_len);

/* ---- requests (request.c) ---- */
typedef struct gw_header
{
	char	   *name;			/* lower case */
	char	   *value;
} gw_header;

typedef struct gw_query
{
	const char *sql;			/* static text is prepared once per connection */
	char	   *sql_owned;		/* sql, when it was built for this request */
	int			nparams;
	char	   *params[GW_MAX_PARAMS];	/* owned; NULL is SQL NULL */
	int			lengths[GW_MAX_PARAMS]; /* byte length of a binary parameter */
	int			formats[GW_MAX_PARAMS]; /* 1: binary (gw_query_bind) */
	Oid			types[GW_MAX_PARAMS];	/* 0: inferred from the query */
	bool		binary_result;	/* results in binary format */
} gw_query;

/* A growing byte buffer (binary parameters). */
typedef struct gw_buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} gw_buf;

struct gw_conn;
struct gw_request;
typedef struct gw_sub gw_sub;
struct evbuffer;
typedef void (*gw_done_fn) (struct gw_request *r, PGresult **res, int nres, PGresult *error);

typedef struct gw_request
{
	struct gw_conn *conn;		/* NULL once the client has gone */
	int32_t		stream_id;		/* HTTP/2 stream, 0 for HTTP/1.1 */
	struct gw_request *next;	/* in the connection's list */
	char	   *method;
	char	   *path;
	gw_header  *headers;
	int			nheaders;
	int			headers_cap;
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	bool		too_large;
	bool		h2;
	struct timeval start;

	/* processing */
	bool		cbor;
	const struct gw_op *op;
	char		target[96];
	json_object *input;
	void	   *fast;			/* what an operation's parse hook built */
	void		(*fast_free) (void *fast);
	char	   *role;			/* role to SET, or NULL (auth none) */
	char	   *access_key;
	int			phase;
	bool		in_pool;		/* queued or running in the pool */
	bool		running;		/* sent on a database connection */
	struct event *timer;		/* request_timeout while queued */

	/* the pool job */
	gw_query	queries[GW_MAX_QUERIES];
	int			nqueries;
	gw_done_fn	done;
	struct gw_request *qnext;	/* pool queue */

	/* response */
	int			status;
	char	   *resp;
	size_t		resp_len;
	size_t		resp_off;		/* HTTP/2 data provider position */
	const char *resp_type;
	const char *err_type;
	bool		answered;

	/* a streamed response (SubscribeToShard) */
	gw_sub	   *sub;
	struct evbuffer *stream_out;
	bool		streaming;
	bool		stream_done;
} gw_request;

gw_request *gw_request_new(struct gw_conn *c, int32_t stream_id);
void		gw_request_free(gw_request *r);
bool		gw_request_add_header(gw_request *r, const char *name, size_t nlen, const char *value, size_t vlen);
bool		gw_request_add_body(gw_request *r, const char *data, size_t len);
const char *gw_request_header(gw_request *r, const char *name);
void		gw_request_dispatch(gw_request *r);
void		gw_request_error(gw_request *r, int status, const char *type, const char *fmt,...) __attribute__((format(printf, 4, 5)));
void		gw_request_reply(gw_request *r, int status, json_object *body);
void		gw_request_reply_buf(gw_request *r, int status, char *body, size_t len);
void		gw_request_log(gw_request *r);

/* ---- connections (http.c) ---- */
void		gw_conn_respond(gw_request *r);
int			gw_listen_start(char *err, size_t errlen);
void		gw_listen_stop(void);
int			gw_tls_setup(char *err, size_t errlen);
int			gw_conn_stream_start(gw_request *r, const char *content_type);
void		gw_conn_stream_push(gw_request *r);

/* ---- pool (pool.c) ---- */
typedef struct gw_watch
{
	struct event *ev;
	int			fd;
	short		what;
} gw_watch;

void		gw_pg_watch(gw_watch *w, PGconn *pg, short what, event_callback_fn cb, void *arg);
void		gw_pool_start(void);
void		gw_pool_reconfigure(void);
void		gw_pool_submit(gw_request *r);
void		gw_pool_forget(gw_request *r);
void		gw_pool_stop(void);
void		gw_query_bind(gw_query *q, gw_buf *b, Oid type);
void		gw_keys_flush(void);

/* ---- operations (ops.c) ---- */
typedef struct gw_err
{
	int			status;
	const char *type;
	char		typebuf[64];
	char		message[512];
} gw_err;

/*
 * An answer written straight into one buffer, as JSON text or CBOR
 * (answer.c): maps and arrays declare their member count (CBOR's definite
 * lengths), checked when they are closed.
 */
#define GW_OUT_DEPTH 8
typedef struct gw_out
{
	gw_buf		b;
	bool		cbor;
	bool		after_key;		/* a key was written, its value is next */
	bool		broken;			/* a count or the nesting went wrong */
	int			depth;			/* open maps and arrays */
	bool		is_map[GW_OUT_DEPTH];
	size_t		declared[GW_OUT_DEPTH];
	size_t		written[GW_OUT_DEPTH];
} gw_out;

void		gw_out_init(gw_out *o, bool cbor);
void		gw_out_map(gw_out *o, size_t n);
void		gw_out_array(gw_out *o, size_t n);
void		gw_out_end(gw_out *o);
void		gw_out_key(gw_out *o, const char *key);
void		gw_out_str(gw_out *o, const char *s, size_t len);
void		gw_out_blob(gw_out *o, const unsigned char *data, size_t len);
void		gw_out_int(gw_out *o, int64_t v);
void		gw_out_epoch(gw_out *o, const char *text);
void		gw_out_json(gw_out *o, json_object *v);
bool		gw_out_done(gw_out *o);

typedef bool (*gw_build_fn) (gw_request *r, json_object *in, gw_err *e);
typedef json_object *(*gw_reply_fn) (gw_request *r, json_object *in, PGresult **res, gw_err *e);
typedef bool (*gw_answer_fn) (gw_request *r, json_object *in, PGresult **res, gw_out *o, gw_err *e);
typedef bool (*gw_parse_fn) (gw_request *r);

typedef struct gw_op
{
	const char *service;		/* "Kinesis_20131202" or "Firehose_20150804" */
	const char *name;
	gw_build_fn build;
	gw_reply_fn reply;
	gw_build_fn start;			/* streamed operations: instead of build/reply */
	gw_answer_fn answer;		/* instead of reply: writes the answer itself */
	gw_parse_fn parse;			/* a JSON body's fast path: true when it took
								 * the body (r->fast), else json-c parses it */
} gw_op;

const gw_op *gw_op_find(const char *target);
bool		gw_op_routed(const gw_op *op, gw_err *e);
void		gw_query_add(gw_request *r, const char *sql, int nparams,...);
void		gw_map_pg_error(PGresult *res, gw_err *e);

/* ---- SubscribeToShard (subscribe.c) ---- */
bool		gw_sub_start(gw_request *r, json_object *in, gw_err *e);
void		gw_sub_detach(gw_sub *s);
json_object *gw_records_json(PGresult *res);
json_object *gw_child_shards_json(PGresult *res, int row);

/* ---- codecs (codec.c) ---- */
json_object *gw_cbor_to_json(const unsigned char *buf, size_t len, char *err, size_t errlen);
unsigned char *gw_json_to_cbor(json_object *o, size_t *len);
char	   *gw_base64_encode(const unsigned char *data, size_t len);
unsigned char *gw_base64_decode(const char *s, size_t *len);
void		gw_buf_reserve(gw_buf *b, size_t more);
void		gw_array_start(gw_buf *b, Oid elemtype, int n);
void		gw_array_put(gw_buf *b, const char *data, int len);
void		gw_array_count(gw_buf *b, int n);
bool		gw_array_put_base64(gw_buf *b, const char *s, size_t slen);

/* ---- SigV4 (sigv4.c) ---- */
typedef struct gw_sigv4
{
	char		access_key[129];
	char		date[9];		/* YYYYMMDD of the scope */
	char		region[64];
	char		service[64];
	char		signed_headers[1024];
	char		signature[65];
} gw_sigv4;

bool		gw_sigv4_parse(const char *auth, gw_sigv4 *s, gw_err *e);
bool		gw_sigv4_verify(gw_request *r, const gw_sigv4 *s, const char *secret, gw_err *e);

#endif
