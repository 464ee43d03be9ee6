/*
 * subscribe.c - SubscribeToShard: an HTTP/2 response of
 * application/vnd.amazon.eventstream messages.
 *
 * Each subscription has its own PostgreSQL connection (not a pool one: it
 * lives up to subscribe_seconds).  On it, in order: SET the key's role for
 * the session, take a session advisory lock on (stream, consumer, shard)
 * so a second subscription - through any gateway - is
 * ResourceInUseException, check the consumer, get the shard iterator, and
 * then loop on the waiting kinesis.get_records(iterator, limit, wait): the
 * backend sleeps until a producer commits, so records are pushed as soon as
 * they are readable, and an event (maybe empty) goes out at least every
 * 4 seconds (the longest wait asked for).  The first message is the initial-response
 * event.  The stream ends after subscribe_seconds, when a closed shard has
 * been read to its end (the last event names the children), or with an
 * exception message on an error.  The message framing (prelude, string
 * headers, CRC32s) is written here; zlib computes the CRCs.
 * Event-loop thread only; the request and the subscription point at each
 * other until either ends.
 */
#include "ops.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <zlib.h>

typedef enum
{
	SUB_CONNECTING, SUB_ROLE, SUB_LOCK, SUB_CONSUMER, SUB_ITERATOR, SUB_READ, SUB_DONE
} sub_state;

struct gw_sub
{
	gw_request *req;			/* NULL once the stream is gone */
	PGconn	   *pg;
	gw_watch	w;
	sub_state	state;
	char		stream[NAMELEN];
	char		consumer[NAMELEN];
	char		shard[NAMELEN];
	char		lockkey[NAMELEN * 3 + 3];
	char	   *iterator;
	char	   *continuation;
	char	   *start_type;
	char	   *start_seq;
	char	   *start_ts;
	time_t		deadline;
	PGresult   *res;
};

static int	nsubs;

static void sub_event(evutil_socket_t fd, short what, void *arg);

static void
sub_watch(gw_sub *s, short what)
{
	gw_pg_watch(&s->w, s->pg, what, sub_event, s);
}

/* Free the subscription; a query still running on the server is cancelled. */
static void
sub_free(gw_sub *s)
{
	if (s->w.ev)
		event_free(s->w.ev);
	if (s->pg)
	{
		if (s->state == SUB_READ && PQisBusy(s->pg))
		{
			PGcancel   *c = PQgetCancel(s->pg);
			char		buf[256];

			if (c)
			{
				PQcancel(c, buf, sizeof(buf));
				PQfreeCancel(c);
			}
		}
		PQfinish(s->pg);
	}
	PQclear(s->res);
	free(s->iterator);
	free(s->continuation);
	free(s->start_type);
	free(s->start_seq);
	free(s->start_ts);
	if (s->req)
		s->req->sub = NULL;
	free(s);
	nsubs--;
}

/* The stream went away (RST, connection closed): stop. */
void
gw_sub_detach(gw_sub *s)
{
	s->req = NULL;
	sub_free(s);
}

/* Append one event-stream message with string headers to the response. */
static void
push_message(gw_sub *s, const char *const *hdrs, int nh, const char *payload, size_t plen)
{
	struct evbuffer *out;
	size_t		hlen = 0,
				total;
	unsigned char *m,
			   *p;
	uint32_t	v;

	if (!s->req)
		return;
	for (int i = 0; i < nh; i++)
		hlen += 1 + strlen(hdrs[2 * i]) + 1 + 2 + strlen(hdrs[2 * i + 1]);
	total = 12 + hlen + plen + 4;
	m = p = malloc(total);
	v = htonl((uint32_t) total);
	memcpy(p, &v, 4);
	v = htonl((uint32_t) hlen);
	memcpy(p + 4, &v, 4);
	v = htonl((uint32_t) crc32(0L, m, 8));
	memcpy(p + 8, &v, 4);
	p += 12;
	for (int i = 0; i < nh; i++)
	{
		size_t		nl = strlen(hdrs[2 * i]),
					vl = strlen(hdrs[2 * i + 1]);
		uint16_t	l16 = htons((uint16_t) vl);

		*p++ = (unsigned char) nl;
		memcpy(p, hdrs[2 * i], nl);
		p += nl;
		*p++ = 7;				/* string */
		memcpy(p, &l16, 2);
		p += 2;
		memcpy(p, hdrs[2 * i + 1], vl);
		p += vl;
	}
	memcpy(p, payload, plen);
	p += plen;
	v = htonl((uint32_t) crc32(0L, m, (uInt) (total - 4)));
	memcpy(p, &v, 4);
	out = s->req->stream_out;
	evbuffer_add(out, m, total);
	free(m);
	gw_conn_stream_push(s->req);
}

/* Encode o in the request's content type and push it as an event. */
static void
push_event(gw_sub *s, const char *type, json_object *o)
{
	const char *ct = s->req && s->req->cbor ? "application/x-amz-cbor-1.1" : "application/x-amz-json-1.1";
	const char *h[] = {":message-type", "event", ":event-type", type, ":content-type", ct};

	if (s->req && s->req->cbor)
	{
		size_t		l;
		unsigned char *b = gw_json_to_cbor(o, &l);

		push_message(s, h, 3, (char *) b, l);
		free(b);
	}
	else
	{
		const char *j = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

		push_message(s, h, 3, j, strlen(j));
	}
	json_object_put(o);
}

/* End the subscription: an exception message when type is set. */
static void
sub_end(gw_sub *s, const char *type, const char *msg)
{
	if (s->req && type)
	{
		json_object *o = json_object_new_object();
		const char *j;
		const char *h[] = {":message-type", "exception", ":exception-type", type,
		":content-type", "application/x-amz-json-1.1"};

		add_str(o, "message", msg);
		j = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		push_message(s, h, 3, j, strlen(j));
		json_object_put(o);
	}
	s->state = SUB_DONE;
	if (s->req)
	{
		gw_request *r = s->req;

		/* detach first: sending the end may close the stream and free r */
		s->req = NULL;
		r->sub = NULL;
		r->stream_done = true;
		gw_conn_stream_push(r);
	}
	sub_free(s);
}

/* Fail before the response started: an ordinary error answer. */
static void
sub_fail(gw_sub *s, gw_err *e)
{
	gw_request *r = s->req;

	s->req = NULL;
	if (r)
	{
		r->sub = NULL;
		gw_request_error(r, e->status, e->type, "%s", e->message);
	}
	sub_free(s);
}

static void
sub_send(gw_sub *s, const char *sql, int n, const char *const *params)
{
	if (!PQsendQueryParams(s->pg, sql, n, NULL, params, NULL, NULL, 0))
	{
		gw_err		e = {500, "InternalFailure"};

		snprintf(e.message, sizeof(e.message), "%s", PQerrorMessage(s->pg));
		if (s->state >= SUB_READ)
			sub_end(s, "InternalFailure", e.message);
		else
			sub_fail(s, &e);
		return;
	}
	sub_watch(s, PQflush(s->pg) == 1 ? (EV_READ | EV_WRITE) : EV_READ);
}

static void
send_read(gw_sub *s)
{
	char		wait[32];
	long		left = (long) (s->deadline - time(NULL));
	const char *p[2] = {s->iterator, wait};

	if (left <= 0)
	{
		sub_end(s, NULL, NULL);
		return;
	}
	snprintf(wait, sizeof(wait), "%ld ms", (left < 4 ? left : 4) * 1000L);
	s->state = SUB_READ;
	sub_send(s, "SELECT g.next_shard_iterator, g.millis_behind_latest, array_to_string(g.child_shards, ','), "
			 "r.sequence_number::text, extract(epoch FROM r.approximate_arrival_timestamp), "
			 "r.partition_key, r.data, c.children "
			 "FROM kinesis.get_records($1, 10000, $2::interval) g "
			 "CROSS JOIN LATERAL (SELECT CASE WHEN g.child_shards IS NOT NULL THEN " CHILDREN_SQL " END) c(children) "
			 "LEFT JOIN LATERAL unnest(g.records) r ON true",
			 2, p);
}

/* The next step after a query finished with result res. */
static void
sub_step(gw_sub *s, PGresult *res)
{
	gw_err		e = {0};

	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		gw_map_pg_error(res, &e);
		if (s->state == SUB_READ)
			sub_end(s, e.type, e.message);
		else
			sub_fail(s, &e);
		return;
	}
	switch (s->state)
	{
		case SUB_CONNECTING:
		case SUB_ROLE:
			{
				const char *p[1] = {s->lockkey};

				s->state = SUB_LOCK;
				sub_send(s, "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('kinesis_glue_gateway.subscribe'), "
						 "pg_catalog.hashtext($1))", 1, p);
				return;
			}
		case SUB_LOCK:
			if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
			{
				op_fail(&e, "ResourceInUseException",
						"consumer \"%s\" already has a subscription to shard %s of stream \"%s\"",
						s->consumer, s->shard, s->stream);
				sub_fail(s, &e);
				return;
			}
			{
				const char *p[2] = {s->stream, s->consumer};

				s->state = SUB_CONSUMER;
				sub_send(s, "SELECT count(*) FROM kinesis.list_stream_consumers($1) WHERE consumer_name = $2", 2, p);
				return;
			}
		case SUB_CONSUMER:
			if (strcmp(PQgetvalue(res, 0, 0), "1") != 0)
			{
				op_fail(&e, "ResourceNotFoundException", "consumer \"%s\" of stream \"%s\" does not exist",
						s->consumer, s->stream);
				sub_fail(s, &e);
				return;
			}
			{
				const char *p[5] = {s->stream, s->shard, s->start_type, s->start_seq, s->start_ts};

				s->state = SUB_ITERATOR;
				sub_send(s, "SELECT kinesis.get_shard_iterator($1, $2, $3, $4::bigint, to_timestamp($5::float8))",
						 5, p);
				return;
			}
		case SUB_ITERATOR:
			s->iterator = strdup(PQgetvalue(res, 0, 0));
			if (!s->req || gw_conn_stream_start(s->req, "application/vnd.amazon.eventstream") != 0)
			{
				sub_end(s, NULL, NULL);
				return;
			}
			push_event(s, "initial-response", json_object_new_object());
			send_read(s);
			return;
		case SUB_READ:
			{
				json_object *ev = gw_records_json(res);
				json_object *recs;
				size_t		n;
				bool		ended = PQntuples(res) > 0 && PQgetisnull(res, 0, 0);

				json_object_object_get_ex(ev, "Records", &recs);
				n = json_object_array_length(recs);
				if (n > 0)
				{
					free(s->continuation);
					s->continuation = strdup(json_object_get_string(
						json_object_object_get(json_object_array_get_idx(recs, n - 1), "SequenceNumber")));
				}
				json_object_object_del(ev, "NextShardIterator");
				if (s->continuation)
					add_str(ev, "ContinuationSequenceNumber", s->continuation);
				if (!ended && PQntuples(res) > 0)
				{
					free(s->iterator);
					s->iterator = strdup(PQgetvalue(res, 0, 0));
				}
				push_event(s, "SubscribeToShardEvent", ev);
				if (ended)
					sub_end(s, NULL, NULL);
				else
					send_read(s);
				return;
			}
		case SUB_DONE:
			return;
	}
}

static void
sub_event(evutil_socket_t fd, short what, void *arg)
{
	gw_sub	   *s = arg;

	if (s->state == SUB_CONNECTING && PQstatus(s->pg) != CONNECTION_OK)
	{
		PostgresPollingStatusType st = PQconnectPoll(s->pg);

		if (st == PGRES_POLLING_FAILED)
		{
			gw_err		e = {500, "InternalFailure"};

			snprintf(e.message, sizeof(e.message), "could not connect to the database");
			gw_log(GW_LOG_WARN, "subscription connection: %s", PQerrorMessage(s->pg));
			sub_fail(s, &e);
		}
		else if (st == PGRES_POLLING_OK)
		{
			PQsetnonblocking(s->pg, 1);
			if (s->req && s->req->role)
			{
				const char *p[1] = {s->req->role};

				s->state = SUB_ROLE;
				sub_send(s, "SELECT pg_catalog.set_config('role', $1, false)", 1, p);
			}
			else
			{
				PGresult   *ok = PQmakeEmptyPGresult(s->pg, PGRES_COMMAND_OK);

				sub_step(s, ok);
				PQclear(ok);
			}
		}
		else
			sub_watch(s, st == PGRES_POLLING_READING ? EV_READ : EV_WRITE);
		return;
	}
	if ((what & EV_WRITE) && PQflush(s->pg) == 0)
		sub_watch(s, EV_READ);
	if (!(what & EV_READ))
		return;
	if (!PQconsumeInput(s->pg))
	{
		gw_err		e = {500, "InternalFailure"};

		snprintf(e.message, sizeof(e.message), "the database connection was lost");
		if (s->state == SUB_READ)
			sub_end(s, "InternalFailure", e.message);
		else
			sub_fail(s, &e);
		return;
	}
	while (!PQisBusy(s->pg))
	{
		PGresult   *res = PQgetResult(s->pg);

		if (!res)
		{
			PGresult   *done = s->res;

			s->res = NULL;
			if (done)
			{
				sub_step(s, done);	/* may free s */
				PQclear(done);
			}
			return;
		}
		if (s->res)
			PQclear(s->res);
		s->res = res;
	}
}

/* Start a subscription for the SubscribeToShard request r. */
bool
gw_sub_start(gw_request *r, json_object *in, gw_err *e)
{
	gw_sub	   *s;
	json_object *sp;
	const char *shard,
			   *type;
	char		nb[40];
	const char *ts;
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {gw_conf->conninfo, "kinesis_glue_gateway subscription", NULL};

	if (!r->h2)
		return op_fail(e, "InvalidArgumentException", "SubscribeToShard needs HTTP/2");
	s = calloc(1, sizeof(gw_sub));
	nsubs++;
	if (!in_consumer(in, s->stream, sizeof(s->stream), s->consumer, sizeof(s->consumer), e) ||
		!in_req(in, "ShardId", &shard, e) || strlen(shard) >= sizeof(s->shard))
	{
		sub_free(s);
		return false;
	}
	if (!json_object_object_get_ex(in, "StartingPosition", &sp) || !sp || !in_req(sp, "Type", &type, e) ||
		!in_num(sp, "Timestamp", nb, sizeof(nb), &ts, e))
	{
		sub_free(s);
		if (!e->type)
			op_fail(e, "ValidationException", "StartingPosition must be given");
		return false;
	}
	if (nsubs > gw_conf->max_subscriptions)
	{
		sub_free(s);
		return op_fail(e, "LimitExceededException", "the gateway serves at most %d subscriptions at once",
					   gw_conf->max_subscriptions);
	}
	strcpy(s->shard, shard);
	snprintf(s->lockkey, sizeof(s->lockkey), "%s/%s/%s", s->stream, s->consumer, s->shard);
	s->start_type = strdup(type);
	s->start_seq = in_str(sp, "SequenceNumber") ? strdup(in_str(sp, "SequenceNumber")) : NULL;
	s->start_ts = ts ? strdup(ts) : NULL;
	if (s->start_seq && strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0)
		s->continuation = strdup(s->start_seq);
	s->deadline = time(NULL) + gw_conf->subscribe_seconds;
	s->req = r;
	r->sub = s;
	s->pg = PQconnectStartParams(keys, vals, 1);
	if (!s->pg || PQstatus(s->pg) == CONNECTION_BAD)
	{
		r->sub = NULL;
		s->req = NULL;
		sub_free(s);
		e->status = 500;
		e->type = "InternalFailure";
		snprintf(e->message, sizeof(e->message), "could not connect to the database");
		return false;
	}
	s->state = SUB_CONNECTING;
	sub_watch(s, EV_WRITE);
	return true;
}
