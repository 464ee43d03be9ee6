/*
 * ops_util.c - helpers for the operations: reading request members,
 * stream and consumer ARNs, query building, and the mapping of PostgreSQL
 * errors (SQLSTATE and the "KinesisName: ..." message prefix) to Kinesis
 * error types and HTTP statuses.  Pure functions over a request.
 */
#include "ops.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Queue a query with nparams text parameters (copied; NULL is SQL NULL). */
void
gw_query_add(gw_request *r, const char *sql, int nparams,...)
{
	va_list		ap;
	gw_query   *q = &r->queries[r->nqueries++];

	memset(q, 0, sizeof(*q));
	q->sql = sql;
	q->nparams = nparams;
	va_start(ap, nparams);
	for (int i = 0; i < nparams; i++)
	{
		const char *v = va_arg(ap, const char *);

		q->params[i] = v ? strdup(v) : NULL;
	}
	va_end(ap);
}

/* The reply of operations whose output is empty. */
json_object *
r_empty(gw_request *r, json_object *in, PGresult **res, gw_err *e)
{
	return json_object_new_object();
}

bool
op_fail(gw_err *e, const char *type, const char *fmt,...)
{
	va_list		ap;

	e->status = 400;
	e->type = type;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return false;
}

/* A string member, or NULL when absent or not a string. */
const char *
in_str(json_object *in, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(in, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * A numeric member as text in *out (static buffer per slot): false with e
 * set when present but not a number.  *out NULL when absent.
 */
bool
in_num(json_object *in, const char *key, char *buf, size_t buflen, const char **out, gw_err *e)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(in, key, &v) || v == NULL)
		return true;
	if (json_object_is_type(v, json_type_int))
		snprintf(buf, buflen, "%lld", (long long) json_object_get_int64(v));
	else if (json_object_is_type(v, json_type_double))
		snprintf(buf, buflen, "%.6f", json_object_get_double(v));
	else
		return op_fail(e, "SerializationException", "%s must be a number", key);
	*out = buf;
	return true;
}

/*
 * A paging limit member (Limit, MaxResults) in *out: def when absent;
 * ValidationException (naming path, its lowerCamel name) outside 1..max.
 */
bool
in_limit(json_object *in, const char *key, const char *path, int def, int max, int *out, gw_err *e)
{
	char		nb[32];
	const char *limit;

	if (!in_num(in, key, nb, sizeof(nb), &limit, e))
		return false;
	*out = limit ? atoi(limit) : def;
	if (*out < 1 || *out > max)
	{
		char		tail[64];

		if (*out < 1)
			snprintf(tail, sizeof(tail), "greater than or equal to 1");
		else
			snprintf(tail, sizeof(tail), "less than or equal to %d", max);
		return op_fail(e, "ValidationException",
					   "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have value %s",
					   limit, path, tail);
	}
	return true;
}

/* A boolean member as "true"/"false", NULL when absent. */
const char *
in_bool(json_object *in, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(in, key, &v) || v == NULL)
		return NULL;
	return json_object_get_boolean(v) ? "true" : "false";
}

/* Required string member; false with ValidationException when missing. */
bool
in_req(json_object *in, const char *key, const char **out, gw_err *e)
{
	*out = in_str(in, key);
	if (!*out)
		return op_fail(e, "ValidationException",
					   "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null",
					   key);
	return true;
}

/* The stream name from StreamName or StreamARN (buf holds it). */
bool
in_stream(json_object *in, char *buf, size_t buflen, gw_err *e)
{
	const char *name = in_str(in, "StreamName");
	const char *arn = in_str(in, "StreamARN");

	if (arn)
	{
		/* arn:<partition>:kinesis:<region>:<account>:stream/<name> */
		const char *p = arn;
		int			colons = 0;

		if (strncmp(arn, "arn:", 4) != 0)
			return op_fail(e, "InvalidArgumentException", "StreamARN \"%.200s\" is not an ARN", arn);
		while (*p && colons < 5)
			if (*p++ == ':')
				colons++;
		if (colons < 5 || strncmp(p, "stream/", 7) != 0 || !strstr(arn, ":kinesis:") || !p[7] ||
			strchr(p + 7, '/'))
			return op_fail(e, "InvalidArgumentException",
						   "StreamARN \"%.200s\" is not arn:aws:kinesis:<region>:<account>:stream/<name>", arn);
		if (name && strcmp(name, p + 7) != 0)
			return op_fail(e, "InvalidArgumentException", "StreamName and StreamARN name different streams");
		name = p + 7;
	}
	if (!name)
		return op_fail(e, "ValidationException", "Either StreamName or StreamARN must be provided");
	if (strlen(name) >= buflen)
		return op_fail(e, "ValidationException", "StreamName is too long");
	strcpy(buf, name);
	return true;
}

/* The stream's ARN. */
void
stream_arn(const char *name, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "arn:aws:kinesis:%s:%s:stream/%s", gw_conf->region, gw_conf->account_id, name);
}

/*
 * Stream and consumer names from ConsumerARN, or from StreamARN/StreamName
 * and ConsumerName.
 */
bool
in_consumer(json_object *in, char *stream, size_t slen, char *consumer, size_t clen, gw_err *e)
{
	const char *carn = in_str(in, "ConsumerARN");

	if (carn)
	{
		const char *c = strstr(carn, "/consumer/");
		const char *colon;
		char		sarn[600];
		json_object *tmp;
		bool		ok;

		if (!c || (size_t) (c - carn) >= sizeof(sarn) || !(colon = strrchr(c + 10, ':')) ||
			colon == c + 10 || (size_t) (colon - (c + 10)) >= clen)
			return op_fail(e, "InvalidArgumentException",
						   "ConsumerARN \"%.200s\" is not <stream ARN>/consumer/<name>:<creation time>", carn);
		memcpy(sarn, carn, c - carn);
		sarn[c - carn] = '\0';
		memcpy(consumer, c + 10, colon - (c + 10));
		consumer[colon - (c + 10)] = '\0';
		tmp = json_object_new_object();
		json_object_object_add(tmp, "StreamARN", json_object_new_string(sarn));
		ok = in_stream(tmp, stream, slen, e);
		json_object_put(tmp);
		return ok;
	}
	{
		const char *cn;

		if (!in_stream(in, stream, slen, e) || !in_req(in, "ConsumerName", &cn, e))
			return false;
		if (strlen(cn) >= clen)
			return op_fail(e, "ValidationException", "ConsumerName is too long");
		strcpy(consumer, cn);
	}
	return true;
}

/* A base64 member as text, checked; false with SerializationException. */
bool
check_blob(const char *key, const char *v, gw_err *e)
{
	size_t		l;
	unsigned char *b = gw_base64_decode(v, &l);

	if (!b)
		return op_fail(e, "SerializationException", "%s is not valid base64", key);
	free(b);
	return true;
}

/* Decode a bytea text value (hex) to base64. */
char *
bytea_to_base64(const char *hexval)
{
	size_t		l;
	unsigned char *b = PQunescapeBytea((const unsigned char *) hexval, &l);
	char	   *s = gw_base64_encode(b ? b : (unsigned char *) "", b ? l : 0);

	PQfreemem(b);
	return s;
}

void
add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

/* Add a string member unless the column is NULL. */
void
add_col(json_object *o, const char *key, PGresult *res, int row, int col)
{
	if (!PQgetisnull(res, row, col))
		add_str(o, key, PQgetvalue(res, row, col));
}

/* Add a numeric epoch (seconds) column as a timestamp number. */
void
add_epoch(json_object *o, const char *key, PGresult *res, int row, int col)
{
	if (!PQgetisnull(res, row, col))
		json_object_object_add(o, key, json_object_new_double(strtod(PQgetvalue(res, row, col), NULL)));
}

void
add_int(json_object *o, const char *key, PGresult *res, int row, int col)
{
	if (!PQgetisnull(res, row, col))
		json_object_object_add(o, key, json_object_new_int64(strtoll(PQgetvalue(res, row, col), NULL, 10)));
}

/* Map an error result to a Kinesis error: the message prefix, else SQLSTATE. */
void
gw_map_pg_error(PGresult *res, gw_err *e)
{
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *p;
	size_t		n = 0;

	if (!msg)
		msg = PQresultErrorMessage(res);
	if (!state)
		state = "XX000";

	/*
	 * routing = cluster: a node's error relayed by PL/Proxy is
	 * "<function>(<partition>): [<database>] REMOTE ERROR: <node's message>"
	 * (its SQLSTATE kept): answer the node's message
	 */
	if (gw_conf->routing == GW_ROUTING_CLUSTER && (p = strstr(msg, "] REMOTE ERROR: ")) != NULL)
		msg = p + strlen("] REMOTE ERROR: ");
	e->status = 400;
	for (p = msg; isalpha((unsigned char) *p); p++)
		n++;
	if (n > 0 && n < sizeof(e->typebuf) && isupper((unsigned char) msg[0]) && p[0] == ':' && p[1] == ' ' &&
		(strncmp(p - 9, "Exception", 9) == 0 || strncmp(p - 7, "Failure", 7) == 0))
	{
		memcpy(e->typebuf, msg, n);
		e->typebuf[n] = '\0';
		e->type = e->typebuf;
		snprintf(e->message, sizeof(e->message), "%s", p + 2);
		if (strcmp(e->type, "InternalFailure") == 0)
			e->status = 500;
		return;
	}
	snprintf(e->message, sizeof(e->message), "%s", msg);
	if (strcmp(state, "42704") == 0)
		e->type = "ResourceNotFoundException";
	else if (strcmp(state, "55006") == 0)
		e->type = "ResourceInUseException";
	else if (strcmp(state, "54000") == 0)
		e->type = "LimitExceededException";
	else if (strcmp(state, "53400") == 0)
		e->type = "ProvisionedThroughputExceededException";
	else if (strcmp(state, "42501") == 0)
		e->type = "AccessDeniedException";
	else if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		e->type = "InvalidArgumentException";
	else
	{
		e->type = "InternalFailure";
		e->status = 500;
		gw_log(GW_LOG_WARN, "database error %s: %s", state, msg);
	}
}
