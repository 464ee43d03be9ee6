/*
 * pool.c - a pool of nonblocking libpq connections driven by libevent.
 *
 * Each connection runs one request at a time as one pipeline: an optional
 * "SELECT set_config('role', $1, true)", the operation's queries, and a
 * Sync.  Everything up to the Sync is one transaction, so the role reverts
 * at its end and a failed query rolls the whole request back.  Each
 * connection prepares a query text the first time it runs it (a Parse in
 * the same pipeline) and then only binds and executes it: PREP_MAX texts
 * per connection, keyed by the text and parameter types, forgotten with
 * the connection, and all deallocated when a query fails because a cached
 * plan changed its result type (after an extension upgrade).  Requests
 * wait in a FIFO queue (bounded by max_queue, each for at most
 * request_timeout) while every connection is busy or down.  A connection
 * that breaks (PostgreSQL restarted) fails its request with InternalFailure
 * (the SDKs retry it) and is reopened every second until it connects.
 * Event-loop thread only.
 */
#include "gw.h"

#include <stdlib.h>
#include <string.h>

#define POOL_MAX 1000
#define PREP_MAX 64
#define SLOT_MAX (2 * GW_MAX_QUERIES + 2)

typedef enum
{
	PC_DOWN, PC_CONNECTING, PC_IDLE, PC_BUSY
} pc_state;

/* a statement prepared on one connection as "gw<index>" */
typedef struct prepared
{
	char	   *sql;
	int			nparams;
	Oid			types[GW_MAX_PARAMS];
	bool		ready;			/* its Parse succeeded */
	bool		sent;			/* its Parse is in the running pipeline */
} prepared;

/* what one result of the pipeline belongs to */
enum
{
	SLOT_SKIP = -1,				/* set_config('role') or DEALLOCATE ALL */
	SLOT_PREP = -2				/* a Parse; prep_slot names the statement */
};

typedef struct pconn
{
	int			idx;
	pc_state	state;
	PGconn	   *pg;
	gw_watch	w;
	struct event *retry;
	int			gen;
	gw_request *req;
	int			qi;				/* the result slot being read */
	int			nslots;
	int			slot[SLOT_MAX]; /* query index, SLOT_SKIP or SLOT_PREP */
	int			prep_slot[SLOT_MAX];
	PGresult   *res[GW_MAX_QUERIES];
	PGresult   *err;
	prepared	prep[PREP_MAX];
	int			nprep;
	bool		prep_reset;		/* send DEALLOCATE ALL before the next request */
} pconn;

static pconn *conns[POOL_MAX];
static int	pool_gen;
static gw_request *qhead,
		   *qtail;
static int	qlen;
static int	nconns;

static void pc_connect(pconn *c);
static void pc_clear_results(pconn *c);
static void prep_forget(pconn *c);
static void pc_event(evutil_socket_t fd, short what, void *arg);
static void pc_next(pconn *c);

/*
 * (Re)arm a libpq connection's socket event for what (EV_READ/EV_WRITE);
 * libpq may change the socket while it connects.
 */
void
gw_pg_watch(gw_watch *w, PGconn *pg, short what, event_callback_fn cb, void *arg)
{
	int			fd = PQsocket(pg);

	if (w->ev && (w->fd != fd || w->what != what))
	{
		event_free(w->ev);
		w->ev = NULL;
	}
	if (!w->ev)
	{
		w->ev = event_new(gw_base, fd, what | EV_PERSIST, cb, arg);
		w->fd = fd;
		w->what = what;
		event_add(w->ev, NULL);
	}
}

static void
pc_watch(pconn *c, short what)
{
	gw_pg_watch(&c->w, c->pg, what, pc_event, c);
}

static void
pc_clear_results(pconn *c)
{
	for (int i = 0; i < GW_MAX_QUERIES; i++)
	{
		PQclear(c->res[i]);
		c->res[i] = NULL;
	}
	PQclear(c->err);
	c->err = NULL;
}

/* Forget the connection's prepared statements (closed, or deallocated). */
static void
prep_forget(pconn *c)
{
	for (int i = 0; i < c->nprep; i++)
		free(c->prep[i].sql);
	c->nprep = 0;
}

/*
 * The statement for q on c: its index, with *parse set when it must be
 * prepared first (not yet, and not earlier in this pipeline), or -1 when
 * the cache is full (run unnamed).
 */
static int
prep_lookup(pconn *c, const gw_query *q, bool *parse)
{
	*parse = false;
	for (int i = 0; i < c->nprep; i++)
		if (c->prep[i].nparams == q->nparams && strcmp(c->prep[i].sql, q->sql) == 0 &&
			memcmp(c->prep[i].types, q->types, sizeof(Oid) * q->nparams) == 0)
		{
			*parse = !c->prep[i].ready && !c->prep[i].sent;
			c->prep[i].sent |= *parse;
			return i;
		}
	if (c->nprep == PREP_MAX)
		return -1;
	c->prep[c->nprep].sql = strdup(q->sql);
	c->prep[c->nprep].nparams = q->nparams;
	memcpy(c->prep[c->nprep].types, q->types, sizeof(Oid) * q->nparams);
	c->prep[c->nprep].ready = false;
	c->prep[c->nprep].sent = true;
	*parse = true;
	return c->nprep++;
}

/* Send one query of the request, prepared when the cache allows. */
static bool
pc_send_query(pconn *c, const gw_query *q, int qindex)
{
	const char *const *vals = (const char *const *) q->params;
	bool		parse;
	int			pi = prep_lookup(c, q, &parse);
	char		name[16];

	if (pi < 0)
	{
		c->slot[c->nslots++] = qindex;
		return PQsendQueryParams(c->pg, q->sql, q->nparams, q->types, vals, q->lengths,
								 q->formats, q->binary_result) == 1;
	}
	snprintf(name, sizeof(name), "gw%d", pi);
	if (parse)
	{
		c->prep_slot[c->nslots] = pi;
		c->slot[c->nslots++] = SLOT_PREP;
		if (PQsendPrepare(c->pg, name, q->sql, q->nparams, q->types) != 1)
			return false;
	}
	c->slot[c->nslots++] = qindex;
	return PQsendQueryPrepared(c->pg, name, q->nparams, vals, q->lengths, q->formats,
							   q->binary_result) == 1;
}

static void
pc_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	pc_connect(arg);
}

/* Close the connection; reopen it after delay_ms unless it is surplus. */
static void
pc_close(pconn *c, int delay_ms)
{
	if (c->w.ev)
		event_free(c->w.ev);
	c->w.ev = NULL;
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	c->state = PC_DOWN;
	pc_clear_results(c);
	prep_forget(c);
	c->prep_reset = false;
	if (c->idx < gw_conf->pool_size)
	{
		struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};

		if (!c->retry)
			c->retry = evtimer_new(gw_base, pc_retry_cb, c);
		evtimer_add(c->retry, &tv);
	}
}

/* Fail the running request because the connection broke. */
static void
pc_broken(pconn *c, const char *why)
{
	gw_request *r = c->req;

	gw_log(GW_LOG_WARN, "database connection %d lost: %s", c->idx, why);
	c->req = NULL;
	pc_close(c, 1000);
	if (r)
	{
		r->in_pool = r->running = false;
		r->done(r, NULL, 0, NULL);
	}
}

static void
pc_connect(pconn *c)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {gw_conf->conninfo, "kinesis_glue_gateway", NULL};

	c->gen = pool_gen;
	c->pg = PQconnectStartParams(keys, vals, 1);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD)
	{
		gw_log(GW_LOG_WARN, "database connection %d: %s", c->idx,
			   c->pg ? PQerrorMessage(c->pg) : "out of memory");
		pc_close(c, 1000);
		return;
	}
	c->state = PC_CONNECTING;
	pc_watch(c, EV_WRITE);
}

/* Send the request's pipeline. */
static void
pc_run(pconn *c, gw_request *r)
{
	bool		ok = true;

	c->req = r;
	r->running = true;
	c->state = PC_BUSY;
	c->qi = 0;
	c->nslots = 0;
	ok = PQenterPipelineMode(c->pg) == 1;
	if (ok && c->prep_reset)
	{
		prep_forget(c);
		c->prep_reset = false;
		c->slot[c->nslots++] = SLOT_SKIP;
		ok = PQsendQueryParams(c->pg, "DEALLOCATE ALL", 0, NULL, NULL, NULL, NULL, 0) == 1;
	}
	if (ok && r->role)
	{
		const char *p[1] = {r->role};

		c->slot[c->nslots++] = SLOT_SKIP;
		ok = PQsendQueryParams(c->pg, "SELECT pg_catalog.set_config('role', $1, true)",
							   1, NULL, p, NULL, NULL, 0) == 1;
	}
	for (int i = 0; ok && i < r->nqueries; i++)
		ok = pc_send_query(c, &r->queries[i], i);
	if (ok)
		ok = PQpipelineSync(c->pg) == 1;
	if (!ok)
	{
		pc_broken(c, PQerrorMessage(c->pg));
		return;
	}
	pc_watch(c, PQflush(c->pg) == 1 ? (EV_READ | EV_WRITE) : EV_READ);
}

/* Keep one result of slot c->qi: a query's, the first error, or none. */
static void
pc_keep(pconn *c, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	int			kind = c->qi < c->nslots ? c->slot[c->qi] : SLOT_SKIP;

	if (kind == SLOT_PREP && st == PGRES_COMMAND_OK)
		c->prep[c->prep_slot[c->qi]].ready = true;
	if (st == PGRES_FATAL_ERROR && !c->err)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		/* "cached plan must not change result type": prepare again */
		if (state && strcmp(state, "0A000") == 0 &&
			strstr(PQresultErrorMessage(res), "cached plan") != NULL)
			c->prep_reset = true;
		c->err = res;
	}
	else if ((st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) && kind >= 0 && !c->res[kind])
		c->res[kind] = res;
	else
		PQclear(res);
}

/* Read results; when the Sync arrives hand them to the request. */
static void
pc_results(pconn *c)
{
	gw_request *r = c->req;
	int			nq;

	while (!PQisBusy(c->pg))
	{
		PGresult   *res = PQgetResult(c->pg);

		if (!res)
		{
			c->qi++;
			continue;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
		{
			PQclear(res);
			break;
		}
		pc_keep(c, res);
		if (c->qi > SLOT_MAX)
			break;
	}
	if (PQisBusy(c->pg))
		return;
	/* the Sync was seen */
	while (PQexitPipelineMode(c->pg) != 1)
	{
		PGresult   *res = PQgetResult(c->pg);

		if (!res && PQisBusy(c->pg))
		{
			pc_broken(c, "pipeline did not end");
			return;
		}
		PQclear(res);
	}
	nq = r->nqueries;
	c->req = NULL;
	c->state = PC_IDLE;
	pc_watch(c, EV_READ);
	r->in_pool = r->running = false;
	for (int i = 0; i < c->nprep; i++)
		c->prep[i].sent = false;	/* a Parse that failed is sent again */
	r->done(r, c->res, nq, c->err);
	pc_clear_results(c);
	pc_next(c);
}

static void
pc_event(evutil_socket_t fd, short what, void *arg)
{
	pconn	   *c = arg;

	if (c->state == PC_CONNECTING)
	{
		PostgresPollingStatusType st = PQconnectPoll(c->pg);

		if (st == PGRES_POLLING_FAILED)
		{
			gw_log(GW_LOG_WARN, "database connection %d: %s", c->idx, PQerrorMessage(c->pg));
			pc_close(c, 1000);
		}
		else if (st == PGRES_POLLING_OK)
		{
			PQsetnonblocking(c->pg, 1);
			c->state = PC_IDLE;
			gw_log(GW_LOG_DEBUG, "database connection %d ready", c->idx);
			pc_watch(c, EV_READ);
			pc_next(c);
		}
		else
			pc_watch(c, st == PGRES_POLLING_READING ? EV_READ : EV_WRITE);
		return;
	}
	if (what & EV_WRITE)
	{
		int			f = PQflush(c->pg);

		if (f < 0)
		{
			pc_broken(c, PQerrorMessage(c->pg));
			return;
		}
		if (f == 0)
			pc_watch(c, EV_READ);
	}
	if (what & EV_READ)
	{
		if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD)
		{
			pc_broken(c, PQerrorMessage(c->pg));
			return;
		}
		if (c->state == PC_BUSY)
			pc_results(c);
		else
		{
			PGnotify   *n;

			while ((n = PQnotifies(c->pg)))
				PQfreemem(n);
		}
	}
}

/* An idle connection takes the next queued request (or closes if stale). */
static void
pc_next(pconn *c)
{
	gw_request *r;

	if (c->state != PC_IDLE)
		return;
	if (c->gen != pool_gen || c->idx >= gw_conf->pool_size)
	{
		pc_close(c, 0);
		return;
	}
	if (!qhead)
		return;
	r = qhead;
	qhead = r->qnext;
	if (!qhead)
		qtail = NULL;
	qlen--;
	r->qnext = NULL;
	if (r->timer)
		evtimer_del(r->timer);
	pc_run(c, r);
}

static void
queue_timeout(evutil_socket_t fd, short what, void *arg)
{
	gw_request *r = arg;

	gw_pool_forget(r);
	r->in_pool = false;
	r->done(r, NULL, -1, NULL);
}

/* Queue a request whose queries are built; r->done is called once. */
void
gw_pool_submit(gw_request *r)
{
	struct timeval tv = {gw_conf->request_timeout, 0};

	if (qlen >= gw_conf->max_queue)
	{
		r->done(r, NULL, -2, NULL);
		return;
	}
	r->in_pool = true;
	r->qnext = NULL;
	if (qtail)
		qtail->qnext = r;
	else
		qhead = r;
	qtail = r;
	qlen++;
	if (!r->timer)
		r->timer = evtimer_new(gw_base, queue_timeout, r);
	evtimer_add(r->timer, &tv);
	for (int i = 0; i < nconns && qhead; i++)
		if (conns[i] && conns[i]->state == PC_IDLE)
			pc_next(conns[i]);
}

/* Take a request out of the queue (its client went away or it timed out). */
void
gw_pool_forget(gw_request *r)
{
	gw_request **pp = &qhead,
			   *prev = NULL;

	for (; *pp; prev = *pp, pp = &(*pp)->qnext)
		if (*pp == r)
		{
			*pp = r->qnext;
			if (qtail == r)
				qtail = prev;
			qlen--;
			break;
		}
	if (r->timer)
		evtimer_del(r->timer);
}

/* Open pool_size connections. */
void
gw_pool_start(void)
{
	for (int i = 0; i < gw_conf->pool_size && i < POOL_MAX; i++)
	{
		if (!conns[i])
		{
			conns[i] = calloc(1, sizeof(pconn));
			conns[i]->idx = i;
		}
		if (conns[i]->state == PC_DOWN && !(conns[i]->retry && evtimer_pending(conns[i]->retry, NULL)))
			pc_connect(conns[i]);
	}
	if (gw_conf->pool_size > nconns)
		nconns = gw_conf->pool_size;
}

/* After SIGHUP: new conninfo or pool size; connections turn over when idle. */
void
gw_pool_reconfigure(void)
{
	pool_gen++;
	for (int i = 0; i < nconns; i++)
		if (conns[i] && conns[i]->state == PC_IDLE)
			pc_close(conns[i], 0);
	gw_pool_start();
}

/* Close everything (shutdown). */
void
gw_pool_stop(void)
{
	for (int i = 0; i < nconns; i++)
		if (conns[i])
		{
			if (conns[i]->retry)
				event_free(conns[i]->retry);
			conns[i]->retry = NULL;
			if (conns[i]->w.ev)
				event_free(conns[i]->w.ev);
			conns[i]->w.ev = NULL;
			if (conns[i]->pg)
				PQfinish(conns[i]->pg);
			conns[i]->pg = NULL;
		}
}

/*
 * Set parameter i = q->nparams of q to the bytes of b in binary format
 * (type oid), taking b's buffer.
 */
void
gw_query_bind(gw_query *q, gw_buf *b, Oid type)
{
	int			i = q->nparams++;

	q->params[i] = b->data ? b->data : malloc(1);
	q->lengths[i] = (int) b->len;
	q->formats[i] = 1;
	q->types[i] = type;
	b->data = NULL;
	b->len = b->cap = 0;
}
