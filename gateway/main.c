/*
 * main.c - kinesis_glue_gateway: options, configuration, signals and the
 * event loop.  SIGHUP re-reads the configuration (everything but the
 * listen address, which needs a restart; the certificate is reloaded);
 * SIGTERM and SIGINT stop the loop.  Single-threaded.
 */
#include "gw.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

struct event_base *gw_base;
static char *config_path;
static char **overrides;
static int	noverrides;

static const char *help_text =
"NAME\n"
"    kinesis_glue_gateway - the Amazon Kinesis and Firehose HTTP API in front of kinesis_glue\n"
"\n"
"SYNOPSIS\n"
"    kinesis_glue_gateway [-c FILE] [-s KEY=VALUE]... [-t]\n"
"    kinesis_glue_gateway -h | -V\n"
"\n"
"DESCRIPTION\n"
"    Serves the Kinesis Data Streams API (X-Amz-Target Kinesis_20131202.*) and part of the\n"
"    Firehose API (Firehose_20150804.*) on one port, over HTTP/1.1 and HTTP/2 (cleartext with\n"
"    prior knowledge, or TLS with ALPN h2/http1.1 when a certificate is configured), with\n"
"    application/x-amz-json-1.1 and application/x-amz-cbor-1.1 bodies, and runs each call as the\n"
"    kinesis_glue SQL functions through a pool of PostgreSQL connections.  Point an AWS SDK's\n"
"    endpoint at it.  SubscribeToShard streams records over HTTP/2 as they are committed.\n"
"\n"
"OPTIONS\n"
"    -c, --config FILE      read settings from FILE (key = value lines, # comments)\n"
"    -s, --set KEY=VALUE    override one setting (after the file; kept on reload)\n"
"    -t, --check            check the configuration and exit\n"
"    -h, --help             show this text\n"
"    -V, --version          print the version\n"
"\n"
"SETTINGS\n"
"    listen = HOST:PORT        address to serve (127.0.0.1:4567)\n"
"    conninfo = STRING         libpq connection string (dbname=postgres)\n"
"    pool_size = N             PostgreSQL connections (4)\n"
"    auth = none|sigv4         none: any or no signature; sigv4: verify it (none)\n"
"    access_key_table = S.T    table of access keys for sigv4 (kinesis_gateway.access_keys)\n"
"    key_cache_seconds = N     how long a looked-up key is trusted (10)\n"
"    max_clock_skew = N        seconds X-Amz-Date may differ from the clock (300)\n"
"    tls_cert, tls_key = FILE  PEM certificate chain and key: serve TLS\n"
"    region, account_id        used in ARNs (us-east-1, 000000000000)\n"
"    log_level = LEVEL         debug, info, warn, error, off (info)\n"
"    request_log_level = LEVEL level of the one line logged per request (info)\n"
"    max_body_bytes = N        larger requests are refused before parsing (8388608)\n"
"    max_connections = N       client connections at once (1024)\n"
"    max_streams = N           concurrent HTTP/2 streams per connection (100)\n"
"    client_timeout = N        seconds a client may be idle or slow (60)\n"
"    request_timeout = N       seconds a request may wait for a database connection (30)\n"
"    max_queue = N             requests waiting for a database connection (10000)\n"
"    max_subscriptions = N     SubscribeToShard streams at once, each with its own connection (100)\n"
"    subscribe_seconds = N     a subscription ends after N seconds (300, as Kinesis)\n"
"    routing = local|cluster   local: run kinesis.* on the conninfo database; cluster: that\n"
"                              database is the proxy of kinesis_glue_cluster and the Data Streams\n"
"                              operations it routes run as kinesis_cluster.* (local)\n"
"\n"
"AUTHENTICATION\n"
"    With auth = sigv4 the AWS Signature Version 4 of every request is verified against the\n"
"    secret in access_key_table, and the request runs as the PostgreSQL role mapped to the key\n"
"    (SET ROLE inside the request's transaction), so GRANTs decide.  The login of conninfo must\n"
"    be a member of those roles.  gateway/kinesis_glue_gateway.sql creates the table.\n"
"\n"
"ROUTING\n"
"    With routing = cluster, CreateStream, DeleteStream, ListStreams, DescribeStream(Summary),\n"
"    ListShards, PutRecord(s), GetShardIterator, GetRecords, SplitShard and MergeShards call\n"
"    kinesis_cluster.*, which routes each to the node(s) holding the shards (iterators name their\n"
"    node); every other operation, and Firehose, answers InvalidArgumentException \"... is not\n"
"    available through a gateway in routing = cluster mode\", as kinesis_cluster does not route\n"
"    it (a routing = local gateway on a node serves only that node's copy of a stream).\n"
"\n"
"SIGNALS\n"
"    SIGHUP     re-read the configuration (not listen), reconnect the pool if conninfo or\n"
"               pool_size changed, forget cached keys\n"
"    SIGTERM    stop\n"
"\n"
"FILES\n"
"    /etc/kinesis_glue_gateway.conf   the configuration read by the systemd unit\n"
"\n"
"EXAMPLES\n"
"    kinesis_glue_gateway -s listen=127.0.0.1:4567 -s 'conninfo=dbname=app'\n"
"    aws --endpoint-url http://127.0.0.1:4567 kinesis list-streams\n"
"    kinesis_glue_gateway -s 'conninfo=host=proxy dbname=app' -s routing=cluster\n";

static gw_config *
load(char *err, size_t errlen)
{
	return gw_config_load(config_path, overrides, noverrides, err, errlen);
}

static void
on_hup(evutil_socket_t fd, short what, void *arg)
{
	char		err[512];
	gw_config  *c = load(err, sizeof(err));
	gw_config  *old = gw_conf;
	bool		pool_changed;

	if (!c)
	{
		gw_log(GW_LOG_ERROR, "configuration not reloaded: %s", err);
		return;
	}
	pool_changed = strcmp(c->conninfo, old->conninfo) != 0 || c->pool_size != old->pool_size;
	if (strcmp(c->listen_host, old->listen_host) != 0 || c->listen_port != old->listen_port)
		gw_log(GW_LOG_WARN, "listen changed: it takes effect at the next start");
	gw_conf = c;
	if (gw_tls_setup(err, sizeof(err)) != 0)
	{
		gw_log(GW_LOG_ERROR, "configuration not reloaded: %s", err);
		gw_conf = old;
		gw_config_free(c);
		return;
	}
	gw_keys_flush();
	if (pool_changed)
		gw_pool_reconfigure();
	gw_config_free(old);
	gw_log(GW_LOG_INFO, "configuration reloaded");
}

static void
on_term(evutil_socket_t fd, short what, void *arg)
{
	gw_log(GW_LOG_INFO, "shutting down");
	event_base_loopexit(gw_base, NULL);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 's'},
		{"check", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	bool		check = false;
	int			opt;
	char		err[512];
	struct event *ev_hup,
			   *ev_term,
			   *ev_int;

	overrides = calloc(argc + 1, sizeof(char *));
	while ((opt = getopt_long(argc, argv, "c:s:thV", longopts, NULL)) != -1)
	{
		switch (opt)
		{
			case 'c':
				config_path = optarg;
				break;
			case 's':
				overrides[noverrides++] = optarg;
				break;
			case 't':
				check = true;
				break;
			case 'h':
				fputs(help_text, stdout);
				return 0;
			case 'V':
				printf("kinesis_glue_gateway %s\n", GW_VERSION);
				return 0;
			default:
				fprintf(stderr, "Try \"kinesis_glue_gateway --help\".\n");
				return 2;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "kinesis_glue_gateway: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (!(gw_conf = load(err, sizeof(err))))
	{
		fprintf(stderr, "kinesis_glue_gateway: %s\n", err);
		return 1;
	}
	if (gw_tls_setup(err, sizeof(err)) != 0)
	{
		fprintf(stderr, "kinesis_glue_gateway: %s\n", err);
		return 1;
	}
	if (check)
	{
		printf("configuration ok\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	gw_base = event_base_new();
	if (gw_listen_start(err, sizeof(err)) != 0)
	{
		fprintf(stderr, "kinesis_glue_gateway: %s\n", err);
		return 1;
	}
	ev_hup = evsignal_new(gw_base, SIGHUP, on_hup, NULL);
	ev_term = evsignal_new(gw_base, SIGTERM, on_term, NULL);
	ev_int = evsignal_new(gw_base, SIGINT, on_term, NULL);
	event_add(ev_hup, NULL);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	gw_pool_start();
	gw_log(GW_LOG_INFO, "kinesis_glue_gateway %s listening on %s:%d (%s%s, auth %s, pool %d)",
		   GW_VERSION, gw_conf->listen_host, gw_conf->listen_port,
		   gw_conf->tls_cert ? "TLS, " : "", gw_conf->tls_cert ? "h2 and http/1.1 by ALPN" : "HTTP/1.1 and h2c",
		   gw_conf->auth_sigv4 ? "sigv4" : "none", gw_conf->pool_size);
	event_base_dispatch(gw_base);
	gw_listen_stop();
	gw_pool_stop();
	event_free(ev_hup);
	event_free(ev_term);
	event_free(ev_int);
	event_base_free(gw_base);
	gw_config_free(gw_conf);
	free(overrides);
	return 0;
}
