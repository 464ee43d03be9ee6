/*
 * request.c - one API call from arrival to answer, independent of the HTTP
 * version: target and content type, body decoding (JSON or CBOR), SigV4
 * (key lookup through the pool, cached key_cache_seconds), the operation's
 * queries, the answer in the request's content type, and one log line.
 * Event-loop thread only.  A request belongs to its connection; when the
 * connection closes first, conn is NULL and the pool callback frees it.
 */
#include "gw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

enum
{
	PHASE_NEW, PHASE_AUTH, PHASE_OP
};

typedef struct key_entry
{
	char	   *access_key;
	char	   *secret;
	char	   *role;
	time_t		expires;
	struct key_entry *next;
} key_entry;

static key_entry *keys;

static void op_done(gw_request *r, PGresult **res, int nres, PGresult *error);

gw_request *
gw_request_new(struct gw_conn *c, int32_t stream_id)
{
	gw_request *r = calloc(1, sizeof(gw_request));

	r->conn = c;
	r->stream_id = stream_id;
	gettimeofday(&r->start, NULL);
	return r;
}

void
gw_request_free(gw_request *r)
{
	if (!r)
		return;
	if (r->in_pool && r->running)
	{
		/* running on a database connection: the pool callback frees it */
		r->conn = NULL;
		return;
	}
	if (r->in_pool)
		gw_pool_forget(r);
	if (r->sub)
		gw_sub_detach(r->sub);
	if (r->stream_out)
		evbuffer_free(r->stream_out);
	for (int i = 0; i < r->nheaders; i++)
	{
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->method);
	free(r->path);
	free(r->body);
	free(r->role);
	free(r->access_key);
	free(r->resp);
	if (r->input)
		json_object_put(r->input);
	if (r->fast)
		r->fast_free(r->fast);
	for (int i = 0; i < r->nqueries; i++)
	{
		for (int j = 0; j < r->queries[i].nparams; j++)
			free(r->queries[i].params[j]);
		free(r->queries[i].sql_owned);
	}
	if (r->timer)
		event_free(r->timer);
	free(r);
}

/* Add a header (name lower-cased); false when there are too many. */
bool
gw_request_add_header(gw_request *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
	if (r->nheaders >= 100)
		return false;
	if (r->nheaders == r->headers_cap)
	{
		r->headers_cap = r->headers_cap ? r->headers_cap * 2 : 16;
		r->headers = realloc(r->headers, r->headers_cap * sizeof(gw_header));
	}
	r->headers[r->nheaders].name = strndup(name, nlen);
	for (char *p = r->headers[r->nheaders].name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	r->headers[r->nheaders].value = strndup(value, vlen);
	r->nheaders++;
	return true;
}

/* Append body bytes; false (and too_large) past max_body_bytes. */
bool
gw_request_add_body(gw_request *r, const char *data, size_t len)
{
	if (r->too_large || r->body_len + len > gw_conf->max_body_bytes)
	{
		r->too_large = true;
		return false;
	}
	if (r->body_len + len + 1 > r->body_cap)
	{
		r->body_cap = (r->body_len + len + 1) * 2;
		r->body = realloc(r->body, r->body_cap);
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return true;
}

const char *
gw_request_header(gw_request *r, const char *name)
{
	for (int i = 0; i < r->nheaders; i++)
		if (strcmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* The one line logged per request (for a stream: when it starts). */
void
gw_request_log(gw_request *r)
{
	struct timeval now;
	double		ms;

	gettimeofday(&now, NULL);
	ms = (now.tv_sec - r->start.tv_sec) * 1000.0 + (now.tv_usec - r->start.tv_usec) / 1000.0;
	if (gw_conf->request_log_level < GW_LOG_OFF && gw_conf->request_log_level >= gw_conf->log_level)
		gw_log(gw_conf->request_log_level, "%s %s %s %d %s %zu bytes %.1f ms key=%s role=%s",
			   r->h2 ? "h2" : "http/1.1", r->target[0] ? r->target : "-",
			   r->cbor ? "cbor" : "json", r->status, r->err_type ? r->err_type : "-",
			   r->resp_len, ms, r->access_key ? r->access_key : "-", r->role ? r->role : "-");
}

/* Send the answer in r->resp; log the request. */
static void
send_answer(gw_request *r, int status)
{
	r->answered = true;
	r->status = status;
	r->resp_type = r->cbor ? "application/x-amz-cbor-1.1" : "application/x-amz-json-1.1";
	gw_request_log(r);
	if (r->conn)
		gw_conn_respond(r);
	else
		gw_request_free(r);
}

/* Encode body in the request's content type and send it; log the request. */
void
gw_request_reply(gw_request *r, int status, json_object *body)
{
	if (r->answered)
	{
		json_object_put(body);
		return;
	}
	if (r->cbor)
		r->resp = (char *) gw_json_to_cbor(body, &r->resp_len);
	else
	{
		const char *s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

		r->resp_len = strlen(s);
		r->resp = malloc(r->resp_len + 1);
		memcpy(r->resp, s, r->resp_len + 1);
	}
	json_object_put(body);
	send_answer(r, status);
}

/* Send len bytes already in the request's content type (malloc'd; taken over). */
void
gw_request_reply_buf(gw_request *r, int status, char *body, size_t len)
{
	if (r->answered)
	{
		free(body);
		return;
	}
	r->resp = body;
	r->resp_len = len;
	send_answer(r, status);
}

/* Answer with a Kinesis error body. */
void
gw_request_error(gw_request *r, int status, const char *type, const char *fmt,...)
{
	char		msg[1024];
	va_list		ap;
	json_object *o = json_object_new_object();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->err_type = type;
	json_object_object_add(o, "__type", json_object_new_string(type));
	json_object_object_add(o, "message", json_object_new_string(msg));
	gw_request_reply(r, status, o);
}

static void
reply_err(gw_request *r, gw_err *e)
{
	gw_request_error(r, e->status, e->type, "%s", e->message);
}

/* Pool outcomes that are not query results (see pool.c). */
static bool
pool_failed(gw_request *r, int nres)
{
	if (nres == 0)
		gw_request_error(r, 500, "InternalFailure", "the database connection was lost; retry");
	else if (nres == -1)
		gw_request_error(r, 500, "InternalFailure", "no database connection became free within %d s",
						 gw_conf->request_timeout);
	else
		gw_request_error(r, 503, "ServiceUnavailable", "too many requests are waiting for the database");
	return true;
}

/* Build the operation's queries and queue them. */
static void
run_op(gw_request *r)
{
	gw_err		e = {0};

	r->phase = PHASE_OP;
	for (int i = 0; i < r->nqueries; i++)
	{
		for (int j = 0; j < r->queries[i].nparams; j++)
			free(r->queries[i].params[j]);
		free(r->queries[i].sql_owned);
		r->queries[i].sql_owned = NULL;
	}
	r->nqueries = 0;
	if (!gw_op_routed(r->op, &e))
	{
		reply_err(r, &e);
		return;
	}
	if (r->op->start)
	{
		if (!r->op->start(r, r->input, &e))
			reply_err(r, &e);
		return;
	}
	if (!r->op->build(r, r->input, &e))
	{
		reply_err(r, &e);
		return;
	}
	r->done = op_done;
	gw_pool_submit(r);
}

static void
op_done(gw_request *r, PGresult **res, int nres, PGresult *error)
{
	gw_err		e = {0};
	json_object *out;

	if (!r->conn)
	{
		gw_request_free(r);
		return;
	}
	if (!error && nres <= 0 && !(nres == 0 && r->nqueries == 0))
	{
		pool_failed(r, nres);
		return;
	}
	if (error)
	{
		gw_map_pg_error(error, &e);
		reply_err(r, &e);
		return;
	}
	if (r->op->answer)
	{
		gw_out		o;

		gw_out_init(&o, r->cbor);
		if (!r->op->answer(r, r->input, res, &o, &e))
		{
			free(o.b.data);
			reply_err(r, &e);
		}
		else if (!gw_out_done(&o))
		{
			free(o.b.data);
			gw_log(GW_LOG_ERROR, "%s: the answer's member counts are wrong", r->target);
			gw_request_error(r, 500, "InternalFailure", "the answer could not be encoded");
		}
		else
			gw_request_reply_buf(r, 200, o.b.data, o.b.len);
		return;
	}
	out = r->op->reply(r, r->input, res, &e);
	if (!out)
	{
		reply_err(r, &e);
		return;
	}
	gw_request_reply(r, 200, out);
}

/* Check the signature with the key's secret; run the operation. */
static void
auth_check(gw_request *r, key_entry *k)
{
	gw_sigv4	s;
	gw_err		e = {0};

	gw_sigv4_parse(gw_request_header(r, "authorization"), &s, &e);
	if (!k)
	{
		gw_request_error(r, 400, "UnrecognizedClientException",
						 "The security token included in the request is invalid.");
		return;
	}
	if (!gw_sigv4_verify(r, &s, k->secret, &e))
	{
		reply_err(r, &e);
		return;
	}
	r->role = strdup(k->role);
	run_op(r);
}

static key_entry *
key_find(const char *ak)
{
	time_t		now = time(NULL);

	for (key_entry **pp = &keys; *pp;)
	{
		key_entry  *k = *pp;

		if (k->expires <= now)
		{
			*pp = k->next;
			free(k->access_key);
			free(k->secret);
			free(k->role);
			free(k);
			continue;
		}
		if (strcmp(k->access_key, ak) == 0)
			return k;
		pp = &k->next;
	}
	return NULL;
}

/* Drop every cached key (SIGHUP). */
void
gw_keys_flush(void)
{
	while (keys)
	{
		key_entry  *k = keys;

		keys = k->next;
		free(k->access_key);
		free(k->secret);
		free(k->role);
		free(k);
	}
}

static void
auth_done(gw_request *r, PGresult **res, int nres, PGresult *error)
{
	key_entry  *k = NULL;

	if (!r->conn)
	{
		gw_request_free(r);
		return;
	}
	if (error)
	{
		gw_log(GW_LOG_ERROR, "access key lookup failed: %s", PQresultErrorMessage(error));
		gw_request_error(r, 500, "InternalFailure", "the access key table could not be read");
		return;
	}
	if (nres <= 0)
	{
		pool_failed(r, nres);
		return;
	}
	if (res[0] && PQntuples(res[0]) == 1)
	{
		k = calloc(1, sizeof(key_entry));
		k->access_key = strdup(r->access_key);
		k->secret = strdup(PQgetvalue(res[0], 0, 0));
		k->role = strdup(PQgetvalue(res[0], 0, 1));
		k->expires = time(NULL) + gw_conf->key_cache_seconds;
		if (gw_conf->key_cache_seconds > 0)
		{
			k->next = keys;
			keys = k;
		}
	}
	auth_check(r, k);
	if (k && gw_conf->key_cache_seconds == 0)
	{
		free(k->access_key);
		free(k->secret);
		free(k->role);
		free(k);
	}
}

/* True when a header the gateway acts on appears more than once. */
static bool
duplicated_header(gw_request *r)
{
	static const char *const once[] = {"x-amz-target", "content-type", "authorization", "x-amz-date",
	"host", "content-length", NULL};

	for (int k = 0; once[k]; k++)
	{
		int			n = 0;

		for (int i = 0; i < r->nheaders; i++)
			n += strcmp(r->headers[i].name, once[k]) == 0;
		if (n > 1)
			return true;
	}
	return false;
}

/* A complete request arrived: decode, authenticate, run. */
void
gw_request_dispatch(gw_request *r)
{
	const char *ct = gw_request_header(r, "content-type");
	const char *target = gw_request_header(r, "x-amz-target");
	char		err[256];

	r->cbor = ct && strstr(ct, "cbor") != NULL;
	if (target)
		snprintf(r->target, sizeof(r->target), "%s", target);
	if (r->too_large)
	{
		gw_request_error(r, 413, "SerializationException",
						 "the request body is larger than max_body_bytes (%zu)", gw_conf->max_body_bytes);
		return;
	}
	if (duplicated_header(r))
	{
		gw_request_error(r, 400, "SerializationException",
						 "X-Amz-Target, Content-Type, Authorization, X-Amz-Date and Host must appear once");
		return;
	}
	if (!r->method || strcmp(r->method, "POST") != 0)
	{
		gw_request_error(r, 400, "UnknownOperationException", "only POST / is served");
		return;
	}
	if (!target || !(r->op = gw_op_find(target)))
	{
		gw_request_error(r, 400, "UnknownOperationException", "unknown operation \"%.100s\"",
						 target ? target : "(no X-Amz-Target)");
		return;
	}
	if (r->body_len == 0)
		r->input = json_object_new_object();
	else if (!r->cbor && r->op->parse && r->op->parse(r))
		r->input = json_object_new_object();	/* the operation has what it needs */
	else if (r->cbor)
		r->input = gw_cbor_to_json((unsigned char *) r->body, r->body_len, err, sizeof(err));
	else
	{
		json_tokener *tok = json_tokener_new_ex(64);

		r->input = json_tokener_parse_ex(tok, r->body, (int) r->body_len);
		if (json_tokener_get_error(tok) != json_tokener_success ||
			json_tokener_get_parse_end(tok) != r->body_len)
		{
			snprintf(err, sizeof(err), "malformed JSON: %s",
					 json_tokener_error_desc(json_tokener_get_error(tok)));
			if (r->input)
				json_object_put(r->input);
			r->input = NULL;
		}
		json_tokener_free(tok);
	}
	if (!r->input || !json_object_is_type(r->input, json_type_object))
	{
		if (r->input)
			snprintf(err, sizeof(err), "the body must be an object");
		gw_request_error(r, 400, "SerializationException", "%s", err);
		return;
	}
	if (gw_conf->auth_sigv4)
	{
		gw_sigv4	s;
		gw_err		e = {0};
		key_entry  *k;
		char		sql[256];

		if (!gw_sigv4_parse(gw_request_header(r, "authorization"), &s, &e))
		{
			reply_err(r, &e);
			return;
		}
		r->access_key = strdup(s.access_key);
		if ((k = key_find(s.access_key)))
		{
			auth_check(r, k);
			return;
		}
		r->phase = PHASE_AUTH;
		snprintf(sql, sizeof(sql),
				 "SELECT k.secret_access_key, r.rolname FROM %s k JOIN pg_catalog.pg_roles r ON r.oid = k.role_name::oid WHERE k.access_key_id = $1 AND k.enabled",
				 gw_conf->access_key_table);
		gw_query_add(r, strdup(sql), 1, s.access_key);
		r->queries[0].sql_owned = (char *) r->queries[0].sql;
		r->done = auth_done;
		gw_pool_submit(r);
		return;
	}
	run_op(r);
}
