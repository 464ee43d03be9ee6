/*
 * config.c - the gateway's configuration file: "key = value" lines, '#'
 * comments, overridden by --set key=value options.  A file that does not
 * parse is refused as a whole (on SIGHUP the running configuration stays).
 * Runs on the event-loop thread only; no locking.
 */
#include "gw.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

gw_config  *gw_conf;

static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

/* Write one log line to stderr when level passes the configured threshold. */
void
gw_log(int level, const char *fmt,...)
{
	va_list		ap;
	char		ts[32];
	struct timeval tv;
	struct tm	tm;

	if (gw_conf && level < gw_conf->log_level)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03dZ %s: ", ts, (int) (tv.tv_usec / 1000), level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* Free a configuration made by gw_config_load. */
void
gw_config_free(gw_config *c)
{
	if (!c)
		return;
	free(c->listen_host);
	free(c->conninfo);
	free(c->access_key_table);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->region);
	free(c->account_id);
	free(c);
}

static char *
trim(char *s)
{
	char	   *e;

	while (isspace((unsigned char) *s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char) e[-1]))
		*--e = '\0';
	return s;
}

static bool
parse_int(const char *v, long lo, long hi, long *out)
{
	char	   *end;
	long		n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return false;
	*out = n;
	return true;
}

static int
parse_level(const char *v)
{
	for (int i = 0; i < 5; i++)
		if (strcasecmp(v, level_names[i]) == 0)
			return i;
	return -1;
}

/* A table name the gateway may interpolate: [a-z_][a-z0-9_]* ('.' once). */
static bool
valid_table(const char *v)
{
	int			dots = 0;

	if (!*v || !(islower((unsigned char) *v) || *v == '_'))
		return false;
	for (const char *p = v; *p; p++)
	{
		if (*p == '.')
		{
			if (++dots > 1 || !(islower((unsigned char) p[1]) || p[1] == '_'))
				return false;
		}
		else if (!(islower((unsigned char) *p) || isdigit((unsigned char) *p) || *p == '_'))
			return false;
	}
	return dots == 1;
}

/* Apply one key/value; false with a message in err when it is not valid. */
static bool
set_key(gw_config *c, const char *k, const char *v, char *err, size_t errlen)
{
	long		n;

#define INTKEY(name, field, lo, hi) \
	if (strcmp(k, name) == 0) { \
		if (!parse_int(v, lo, hi, &n)) { snprintf(err, errlen, "%s must be an integer in [%ld, %ld]", k, (long) (lo), (long) (hi)); return false; } \
		c->field = n; return true; }
#define STRKEY(name, field) \
	if (strcmp(k, name) == 0) { free(c->field); c->field = *v ? strdup(v) : NULL; return true; }

	INTKEY("pool_size", pool_size, 1, 1000);
	INTKEY("key_cache_seconds", key_cache_seconds, 0, 86400);
	INTKEY("max_body_bytes", max_body_bytes, 1024, 1L << 30);
	INTKEY("max_connections", max_connections, 1, 1000000);
	INTKEY("max_streams", max_streams, 1, 10000);
	INTKEY("client_timeout", client_timeout, 1, 86400);
	INTKEY("request_timeout", request_timeout, 1, 86400);
	INTKEY("max_queue", max_queue, 1, 1000000);
	INTKEY("max_clock_skew", max_clock_skew, 1, 86400);
	INTKEY("max_subscriptions", max_subscriptions, 0, 100000);
	INTKEY("subscribe_seconds", subscribe_seconds, 1, 86400);
	STRKEY("conninfo", conninfo);
	STRKEY("tls_cert", tls_cert);
	STRKEY("tls_key", tls_key);
	STRKEY("region", region);
	STRKEY("account_id", account_id);
	if (strcmp(k, "listen") == 0)
	{
		const char *colon = strrchr(v, ':');

		if (!colon || colon == v || !parse_int(colon + 1, 0, 65535, &n))
		{
			snprintf(err, errlen, "listen must be host:port");
			return false;
		}
		free(c->listen_host);
		c->listen_host = strndup(v, colon - v);
		c->listen_port = n;
		return true;
	}
	if (strcmp(k, "auth") == 0)
	{
		if (strcmp(v, "none") && strcmp(v, "sigv4"))
		{
			snprintf(err, errlen, "auth must be none or sigv4");
			return false;
		}
		c->auth_sigv4 = strcmp(v, "sigv4") == 0;
		return true;
	}
	if (strcmp(k, "routing") == 0)
	{
		if (strcmp(v, "local") && strcmp(v, "cluster"))
		{
			snprintf(err, errlen, "routing must be local or cluster");
			return false;
		}
		c->routing = strcmp(v, "cluster") == 0 ? GW_ROUTING_CLUSTER : GW_ROUTING_LOCAL;
		return true;
	}
	if (strcmp(k, "access_key_table") == 0)
	{
		if (!valid_table(v))
		{
			snprintf(err, errlen, "access_key_table must be schema.table in lower case");
			return false;
		}
		free(c->access_key_table);
		c->access_key_table = strdup(v);
		return true;
	}
	if (strcmp(k, "log_level") == 0 || strcmp(k, "request_log_level") == 0)
	{
		int			l = parse_level(v);

		if (l < 0)
		{
			snprintf(err, errlen, "%s must be debug, info, warn, error or off", k);
			return false;
		}
		if (k[0] == 'l')
			c->log_level = l;
		else
			c->request_log_level = l;
		return true;
	}
	snprintf(err, errlen, "unknown setting \"%s\"", k);
	return false;
#undef INTKEY
#undef STRKEY
}

/* Split "key = value" (or key=value) in place; false when there is no '='. */
static bool
split_kv(char *line, char **k, char **v)
{
	char	   *eq = strchr(line, '=');

	if (!eq)
		return false;
	*eq = '\0';
	*k = trim(line);
	*v = trim(eq + 1);
	/* optional surrounding quotes */
	if ((*v)[0] == '"' || (*v)[0] == '\'')
	{
		size_t		l = strlen(*v);

		if (l >= 2 && (*v)[l - 1] == (*v)[0])
		{
			(*v)[l - 1] = '\0';
			(*v)++;
		}
	}
	return **k != '\0';
}

/*
 * Read the configuration: defaults, then the file (when path is not NULL),
 * then the overrides.  Returns NULL with a message in err on any error.
 */
gw_config *
gw_config_load(const char *path, char **overrides, int noverrides, char *err, size_t errlen)
{
	gw_config  *c = calloc(1, sizeof(gw_config));
	char		line[4096];
	char		msg[256];
	int			lineno = 0;

	c->listen_host = strdup("127.0.0.1");
	c->listen_port = 4567;
	c->conninfo = strdup("dbname=postgres");
	c->pool_size = 4;
	c->access_key_table = strdup("kinesis_gateway.access_keys");
	c->key_cache_seconds = 10;
	c->region = strdup("us-east-1");
	c->account_id = strdup("000000000000");
	c->log_level = GW_LOG_INFO;
	c->request_log_level = GW_LOG_INFO;
	c->max_body_bytes = 8 * 1024 * 1024;
	c->max_connections = 1024;
	c->max_streams = 100;
	c->client_timeout = 60;
	c->request_timeout = 30;
	c->max_queue = 10000;
	c->max_clock_skew = 300;
	c->max_subscriptions = 100;
	c->subscribe_seconds = 300;
	c->routing = GW_ROUTING_LOCAL;

	if (path)
	{
		FILE	   *f = fopen(path, "r");

		if (!f)
		{
			snprintf(err, errlen, "could not open %s: %s", path, strerror(errno));
			gw_config_free(c);
			return NULL;
		}
		while (fgets(line, sizeof(line), f))
		{
			char	   *s = trim(line),
					   *k,
					   *v;

			lineno++;
			if (!*s || *s == '#' || *s == ';' || *s == '[')
				continue;
			if (!split_kv(s, &k, &v) || !set_key(c, k, v, msg, sizeof(msg)))
			{
				snprintf(err, errlen, "%s:%d: %s", path, lineno,
						 strchr(s, '=') ? msg : "expected key = value");
				fclose(f);
				gw_config_free(c);
				return NULL;
			}
		}
		fclose(f);
	}
	for (int i = 0; i < noverrides; i++)
	{
		char	   *copy = strdup(overrides[i]),
				   *k,
				   *v;
		bool		ok = split_kv(copy, &k, &v) && set_key(c, k, v, msg, sizeof(msg));

		if (!ok)
			snprintf(err, errlen, "--set %s: %s", overrides[i], strchr(overrides[i], '=') ? msg : "expected key=value");
		free(copy);
		if (!ok)
		{
			gw_config_free(c);
			return NULL;
		}
	}
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
	{
		snprintf(err, errlen, "tls_cert and tls_key go together");
		gw_config_free(c);
		return NULL;
	}
	return c;
}
