/*
 * consume_latency: how long after a producer's COMMIT a waiting consume
 * returns the committed record (DESIGN.md: "commit of a put -> a waiting
 * consume returns", p99 < 10 ms).  Built and run by test/bench/consume.sh.
 *
 *   consume_latency CONNINFO ITERATIONS STREAM CONSUMER
 *
 * Three connections: a consumer, a producer and a monitor.  Each iteration:
 *   1. the consumer sends  SELECT count(*) FROM kinesis.consume(STREAM,
 *      CONSUMER, 100, wait => '5 s')  and does not wait for the answer;
 *   2. the producer runs BEGIN and put_record (uncommitted: the consume
 *      cannot return it yet);
 *   3. the monitor polls pg_stat_activity until the consumer's backend
 *      sleeps in the consume (wait event "Extension");
 *   4. t0: the producer sends COMMIT; t1: COMMIT returned;
 *   5. t2: the consumer's answer (one record) has arrived.
 * All times are CLOCK_MONOTONIC on this client, so one clock measures both
 * sides.  Reported:
 *   commit_to_return  = t2 - t0: from the producer sending COMMIT to the
 *                       consumer holding the record (an upper bound: it
 *                       includes the commit itself, i.e. its WAL flush);
 *   ack_to_return     = t2 - t1: from the producer seeing its COMMIT done
 *                       to the consumer holding the record (negative when
 *                       the consumer was answered first);
 *   commit            = t1 - t0: the producer's COMMIT round trip.
 * Output: one line per figure, "name n p50 p90 p99 max mean" in ms.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <libpq-fe.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void
die(const char *what, PGconn *conn)
{
	fprintf(stderr, "consume_latency: %s: %s", what, conn ? PQerrorMessage(conn) : "\n");
	exit(1);
}

static PGconn *
connect_or_die(const char *conninfo)
{
	PGconn	   *c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK)
		die("connection failed", c);
	return c;
}

/* run a command that must succeed; returns the first value (or NULL) */
static char *
run(PGconn *c, const char *sql)
{
	static char buf[256];
	PGresult   *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		die(sql, c);
	buf[0] = '\0';
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		snprintf(buf, sizeof(buf), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return buf;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static void
report(const char *name, double *v, int n)
{
	double		sum = 0;

	qsort(v, n, sizeof(double), cmp_double);
	for (int i = 0; i < n; i++)
		sum += v[i];
	/* nearest-rank percentiles */
#define PCT(p) v[(int) ((p) * n + 0.999999) - 1 < 0 ? 0 : (int) ((p) * n + 0.999999) - 1]
	printf("%s %d %.3f %.3f %.3f %.3f %.3f\n", name, n, PCT(0.50), PCT(0.90), PCT(0.99), v[n - 1], sum / n);
}

int
main(int argc, char **argv)
{
	PGconn	   *cons,
			   *prod,
			   *mon;
	int			n;
	char		consume_sql[512],
				drain_sql[512],
				put_sql[512],
				pid[32];
	const char *mon_params[1];
	double	   *d_commit_return,
			   *d_ack_return,
			   *d_commit;

	if (argc != 5)
	{
		fprintf(stderr, "usage: consume_latency CONNINFO ITERATIONS STREAM CONSUMER\n");
		return 2;
	}
	n = atoi(argv[2]);
	if (n < 1)
		return 2;
	cons = connect_or_die(argv[1]);
	prod = connect_or_die(argv[1]);
	mon = connect_or_die(argv[1]);
	d_commit_return = malloc(sizeof(double) * n);
	d_ack_return = malloc(sizeof(double) * n);
	d_commit = malloc(sizeof(double) * n);

	{
		char	   *s = PQescapeLiteral(cons, argv[3], strlen(argv[3]));
		char	   *c = PQescapeLiteral(cons, argv[4], strlen(argv[4]));

		snprintf(consume_sql, sizeof(consume_sql),
				 "SELECT count(*) FROM kinesis.consume(%s, %s, 100, wait => '5 s')", s, c);
		snprintf(drain_sql, sizeof(drain_sql),
				 "SELECT count(*) FROM kinesis.consume(%s, %s, 10000)", s, c);
		snprintf(put_sql, sizeof(put_sql),
				 "SELECT count(*) FROM kinesis.put_record(%s, 'latency', '\\x00'::bytea)", s);
		PQfreemem(s);
		PQfreemem(c);
	}
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(cons));
	mon_params[0] = pid;
	{
		PGresult   *r = PQprepare(mon, "sleeping",
								  "SELECT coalesce(wait_event_type = 'Extension' AND state = 'active', false) "
								  "FROM pg_stat_activity WHERE pid = $1::int", 1, NULL);

		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("prepare", mon);
		PQclear(r);
	}
	/* nothing left over for the consumer from before */
	while (atol(run(cons, drain_sql)) > 0)
		;

	for (int i = 0; i < n; i++)
	{
		double		t0,
					t1,
					t2,
					give_up;
		PGresult   *r;
		long		got = -1;
		int			sock = PQsocket(cons);

		if (!PQsendQuery(cons, consume_sql))
			die("send consume", cons);
		run(prod, "BEGIN");
		run(prod, put_sql);
		/* until the consumer sleeps in the consume */
		give_up = now_ms() + 5000;
		for (;;)
		{
			PGresult   *m = PQexecPrepared(mon, "sleeping", 1, mon_params, NULL, NULL, 0);

			if (PQresultStatus(m) != PGRES_TUPLES_OK)
				die("monitor", mon);
			if (PQntuples(m) == 1 && strcmp(PQgetvalue(m, 0, 0), "t") == 0)
			{
				PQclear(m);
				break;
			}
			PQclear(m);
			if (now_ms() > give_up)
				die("the consumer never slept in the consume", NULL);
		}
		t0 = now_ms();
		run(prod, "COMMIT");
		t1 = now_ms();
		/* the consumer's answer */
		for (;;)
		{
			fd_set		rs;

			if (!PQconsumeInput(cons))
				die("consume input", cons);
			if (!PQisBusy(cons))
				break;
			FD_ZERO(&rs);
			FD_SET(sock, &rs);
			if (select(sock + 1, &rs, NULL, NULL, NULL) < 0 && errno != EINTR)
				die("select", NULL);
		}
		t2 = now_ms();
		while ((r = PQgetResult(cons)) != NULL)
		{
			if (PQresultStatus(r) != PGRES_TUPLES_OK)
				die("consume", cons);
			got = atol(PQgetvalue(r, 0, 0));
			PQclear(r);
		}
		if (got != 1)
		{
			fprintf(stderr, "consume_latency: iteration %d: the consume returned %ld records, not 1 "
					"(after %.1f ms)\n", i, got, t2 - t0);
			return 1;
		}
		d_commit_return[i] = t2 - t0;
		d_ack_return[i] = t2 - t1;
		d_commit[i] = t1 - t0;
	}
	report("commit_to_return", d_commit_return, n);
	report("ack_to_return", d_ack_return, n);
	report("commit", d_commit, n);
	PQfinish(cons);
	PQfinish(prod);
	PQfinish(mon);
	return 0;
}
