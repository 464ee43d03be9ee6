/*
 * http.c - connections: accept (bounded by max_connections), optional TLS
 * with ALPN h2 / http/1.1 (OpenSSL through libevent), and per connection
 * either HTTP/1.1 (http-parser) or HTTP/2 (nghttp2), told apart by the
 * 24-byte client preface, so h2c with prior knowledge and HTTP/1.1 share
 * one port.  Requests are handed to request.c when complete; answers come
 * back through gw_conn_respond.  HTTP/1.1 handles one request at a time
 * (reading pauses until the answer is written); HTTP/2 runs up to
 * max_streams streams at once.  Idle or slow clients are cut after
 * client_timeout.  Event-loop thread only.
 */
#include "gw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <http_parser.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24

typedef enum
{
	P_UNKNOWN, P_H1, P_H2
} proto_t;

typedef struct gw_conn
{
	struct bufferevent *bev;
	proto_t		proto;
	bool		closing;		/* close once the output is written */
	gw_request *requests;		/* every live request of this connection */

	/* HTTP/1.1 */
	http_parser parser;
	gw_request *cur;			/* being parsed */
	gw_request *ready;			/* parsed, to dispatch */
	bool		busy;			/* a request is being answered */
	bool		in_process;		/* inside h1_process / nghttp2 receive */
	bool		keep_alive;
	char	   *hfield;
	size_t		hfield_len;
	bool		in_value;
	char	   *hvalue;
	size_t		hvalue_len;

	/* HTTP/2 */
	nghttp2_session *h2;
} gw_conn;

static struct evconnlistener *listener;
static SSL_CTX *ssl_ctx;
static int	nconns;

static void conn_free(gw_conn *c);
static void conn_read(struct bufferevent *bev, void *arg);

static void
conn_link(gw_conn *c, gw_request *r)
{
	r->next = c->requests;
	c->requests = r;
}

static void
conn_unlink(gw_conn *c, gw_request *r)
{
	for (gw_request **pp = &c->requests; *pp; pp = &(*pp)->next)
		if (*pp == r)
		{
			*pp = r->next;
			return;
		}
}

static void
request_id(char out[37])
{
	unsigned char b[16];
	static const char *hexd = "0123456789abcdef";
	int			j = 0;

	RAND_bytes(b, sizeof(b));
	for (int i = 0; i < 16; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hexd[b[i] >> 4];
		out[j++] = hexd[b[i] & 15];
	}
	out[j] = '\0';
}

/* ---------------- HTTP/1.1 ---------------- */

static void
h1_commit_header(gw_conn *c)
{
	if (c->hfield && c->cur && !gw_request_add_header(c->cur, c->hfield, c->hfield_len,
													  c->hvalue ? c->hvalue : "", c->hvalue_len))
		c->cur->too_large = true;
	free(c->hfield);
	free(c->hvalue);
	c->hfield = c->hvalue = NULL;
	c->hfield_len = c->hvalue_len = 0;
	c->in_value = false;
}

static void
grow(char **buf, size_t *len, const char *at, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, at, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static int
h1_message_begin(http_parser *p)
{
	gw_conn    *c = p->data;

	c->cur = gw_request_new(c, 0);
	conn_link(c, c->cur);
	return 0;
}

static int
h1_url(http_parser *p, const char *at, size_t n)
{
	gw_conn    *c = p->data;
	size_t		l = c->cur->path ? strlen(c->cur->path) : 0;

	if (l + n > 8192)
		return 1;
	grow(&c->cur->path, &l, at, n);
	return 0;
}

static int
h1_header_field(http_parser *p, const char *at, size_t n)
{
	gw_conn    *c = p->data;

	if (c->in_value)
		h1_commit_header(c);
	grow(&c->hfield, &c->hfield_len, at, n);
	return 0;
}

static int
h1_header_value(http_parser *p, const char *at, size_t n)
{
	gw_conn    *c = p->data;

	c->in_value = true;
	grow(&c->hvalue, &c->hvalue_len, at, n);
	return 0;
}

/* Stop parsing: answer the current request (too large), then close. */
static void
h1_refuse(gw_conn *c, http_parser *p)
{
	c->cur->too_large = true;
	c->ready = c->cur;
	c->cur = NULL;
	c->keep_alive = false;
	http_parser_pause(p, 1);
}

static int
h1_headers_complete(http_parser *p)
{
	gw_conn    *c = p->data;

	h1_commit_header(c);
	c->cur->method = strdup(http_method_str(p->method));
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > gw_conf->max_body_bytes)
		h1_refuse(c, p);		/* before reading the body */
	else
	{
		const char *expect = gw_request_header(c->cur, "expect");

		/* curl and others wait for this before sending a larger body */
		if (expect && strcasecmp(expect, "100-continue") == 0)
			evbuffer_add_printf(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n");
	}
	return 0;
}

static int
h1_body(http_parser *p, const char *at, size_t n)
{
	gw_conn    *c = p->data;

	if (c->cur && !gw_request_add_body(c->cur, at, n))
		h1_refuse(c, p);
	return 0;
}

static int
h1_message_complete(http_parser *p)
{
	gw_conn    *c = p->data;

	if (!c->cur)
		return 0;
	c->keep_alive = http_should_keep_alive(p);
	c->ready = c->cur;
	c->cur = NULL;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings h1_settings = {
	.on_message_begin = h1_message_begin,
	.on_url = h1_url,
	.on_header_field = h1_header_field,
	.on_header_value = h1_header_value,
	.on_headers_complete = h1_headers_complete,
	.on_body = h1_body,
	.on_message_complete = h1_message_complete,
};

/* Answer a request that could not even be parsed, then close. */
static void
h1_bad_request(gw_conn *c, const char *why)
{
	gw_request *r = c->cur ? c->cur : gw_request_new(c, 0);

	if (!c->cur)
		conn_link(c, r);
	c->cur = NULL;
	c->keep_alive = false;
	c->busy = true;
	gw_request_error(r, 400, "SerializationException", "malformed HTTP request: %s", why);
}

/* Parse what has arrived; dispatch each complete request in turn. */
static void
h1_process(gw_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (c->in_process)
		return;
	c->in_process = true;
	while (!c->busy && !c->closing)
	{
		size_t		len = evbuffer_get_length(in),
					n;
		enum http_errno err;

		if (len == 0)
			break;
		n = http_parser_execute(&c->parser, &h1_settings, (char *) evbuffer_pullup(in, len), len);
		evbuffer_drain(in, n);
		err = HTTP_PARSER_ERRNO(&c->parser);
		if (err == HPE_PAUSED)
		{
			http_parser_pause(&c->parser, 0);
			if (c->ready)
			{
				gw_request *r = c->ready;

				c->ready = NULL;
				c->busy = true;
				bufferevent_disable(c->bev, EV_READ);
				gw_request_dispatch(r);
			}
		}
		else if (err != HPE_OK)
		{
			h1_bad_request(c, http_errno_description(err));
			break;
		}
		else if (n < len)
			break;
	}
	c->in_process = false;
}

static void
h1_respond(gw_conn *c, gw_request *r)
{
	/* about 300 bytes at most: the status text, content type and error type (gw_err.typebuf) are short */
	char		head[512],
				rid[37];
	int			head_len;

	request_id(rid);
	head_len = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
						"x-amzn-RequestId: %s\r\n%s%s%s%s\r\n",
						r->status, http_status_str(r->status), r->resp_type, r->resp_len, rid,
						r->err_type ? "x-amzn-ErrorType: " : "", r->err_type ? r->err_type : "",
						r->err_type ? "\r\n" : "", c->keep_alive ? "" : "Connection: close\r\n");
	if (head_len >= (int) sizeof(head))
		head_len = sizeof(head) - 1;	/* cannot happen; never read past the buffer */
	/* the body goes out without a copy; sockio.c frees it once written */
	gw_sock_send(c->bev, head, (size_t) head_len, r->resp, r->resp_len);
	r->resp = NULL;
	conn_unlink(c, r);
	gw_request_free(r);
	c->busy = false;
	if (!c->keep_alive)
	{
		c->closing = true;
		return;
	}
	bufferevent_enable(c->bev, EV_READ);
	h1_process(c);				/* a no-op when called from inside it */
}

/* ---------------- HTTP/2 ---------------- */

static ssize_t
h2_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *arg)
{
	gw_conn    *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 4 * 1024 * 1024)
		return NGHTTP2_ERR_WOULDBLOCK;
	bufferevent_write(c->bev, data, len);
	return (ssize_t) len;
}

static int
h2_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	gw_conn    *c = arg;
	gw_request *r;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	r = gw_request_new(c, f->hd.stream_id);
	r->h2 = true;
	conn_link(c, r);
	nghttp2_session_set_stream_user_data(s, f->hd.stream_id, r);
	return 0;
}

static int
h2_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		  const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	gw_request *r = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	if (!r || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (nlen == 7 && memcmp(name, ":method", 7) == 0 && !r->method)
		r->method = strndup((const char *) value, vlen);
	else if (nlen == 5 && memcmp(name, ":path", 5) == 0 && !r->path)
		r->path = strndup((const char *) value, vlen);
	if (!gw_request_add_header(r, (const char *) name, nlen, (const char *) value, vlen))
		r->too_large = true;
	return 0;
}

static int
h2_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len, void *arg)
{
	gw_request *r = nghttp2_session_get_stream_user_data(s, stream_id);

	if (r && !r->too_large)
		gw_request_add_body(r, (const char *) data, len);
	return 0;
}

static int
h2_frame(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	gw_request *r;

	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
		!(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	r = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (r && !r->answered && !r->op && !r->in_pool)
		gw_request_dispatch(r);
	return 0;
}

static int
h2_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t code, void *arg)
{
	gw_conn    *c = arg;
	gw_request *r = nghttp2_session_get_stream_user_data(s, stream_id);

	if (r)
	{
		nghttp2_session_set_stream_user_data(s, stream_id, NULL);
		conn_unlink(c, r);
		gw_request_free(r);
	}
	return 0;
}

static ssize_t
h2_read_body(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *arg)
{
	gw_request *r = src->ptr;
	size_t		n = r->resp_len - r->resp_off;

	if (n > len)
		n = len;
	memcpy(buf, r->resp + r->resp_off, n);
	r->resp_off += n;
	if (r->resp_off == r->resp_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t) n;
}

/* Flush nghttp2's output; close the connection when it is finished. */
static void
h2_flush(gw_conn *c)
{
	if (nghttp2_session_send(c->h2) != 0 ||
		(!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)))
		c->closing = true;
}

static void
h2_respond(gw_conn *c, gw_request *r)
{
	char		status[8],
				len[24],
				rid[37];
	nghttp2_nv	nv[5];
	int			n = 0;
	nghttp2_data_provider prd = {.source.ptr = r,.read_callback = h2_read_body};

#define NV(k, v) nv[n++] = (nghttp2_nv) {(uint8_t *) (k), (uint8_t *) (v), strlen(k), strlen(v), NGHTTP2_NV_FLAG_NONE}
	snprintf(status, sizeof(status), "%d", r->status);
	snprintf(len, sizeof(len), "%zu", r->resp_len);
	request_id(rid);
	NV(":status", status);
	NV("content-type", r->resp_type);
	NV("content-length", len);
	NV("x-amzn-requestid", rid);
	if (r->err_type)
		NV("x-amzn-errortype", r->err_type);
#undef NV
	if (nghttp2_submit_response(c->h2, r->stream_id, nv, n, &prd) != 0)
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_INTERNAL_ERROR);
	if (!c->in_process)
		h2_flush(c);			/* else h2_process flushes after receiving */
}

/* Data of a streamed response: what is buffered, deferred until more comes. */
static ssize_t
h2_read_stream(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t len, uint32_t *flags,
			   nghttp2_data_source *src, void *arg)
{
	gw_request *r = src->ptr;
	size_t		n = evbuffer_get_length(r->stream_out);

	if (n == 0)
	{
		if (r->stream_done)
		{
			*flags |= NGHTTP2_DATA_FLAG_EOF;
			return 0;
		}
		return NGHTTP2_ERR_DEFERRED;
	}
	return evbuffer_remove(r->stream_out, buf, len);
}

/* Start a 200 response whose body comes later (HTTP/2 only). */
int
gw_conn_stream_start(gw_request *r, const char *content_type)
{
	gw_conn    *c = r->conn;
	char		rid[37];
	nghttp2_nv	nv[3];
	int			n = 0;
	nghttp2_data_provider prd = {.source.ptr = r,.read_callback = h2_read_stream};

	if (!c || c->proto != P_H2)
		return -1;
	r->answered = r->streaming = true;
	r->status = 200;
	r->stream_out = evbuffer_new();
	request_id(rid);
#define NV(k, v) nv[n++] = (nghttp2_nv) {(uint8_t *) (k), (uint8_t *) (v), strlen(k), strlen(v), NGHTTP2_NV_FLAG_NONE}
	NV(":status", "200");
	NV("content-type", content_type);
	NV("x-amzn-requestid", rid);
#undef NV
	gw_request_log(r);
	if (nghttp2_submit_response(c->h2, r->stream_id, nv, n, &prd) != 0)
		return -1;
	return 0;
}

/* More of a streamed response is buffered (or it is done): send it. */
void
gw_conn_stream_push(gw_request *r)
{
	gw_conn    *c = r->conn;

	if (!c || !r->streaming)
		return;
	nghttp2_session_resume_data(c->h2, r->stream_id);
	/* may end the stream and free r; the connection is closed by its callbacks */
	if (!c->in_process)
		h2_flush(c);
}

static void
h2_start(gw_conn *c)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	nghttp2_settings_entry iv[3] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t) gw_conf->max_streams},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 65536},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1024 * 1024},	/* PutRecords bodies are MiBs */
	};

	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, h2_send);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_stream_close);
	nghttp2_option_new(&opt);
	nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
	nghttp2_session_server_new2(&c->h2, cb, c, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 3);
	nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 16 * 1024 * 1024);
}

static void
h2_process(gw_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t		len = evbuffer_get_length(in);
	ssize_t		n;

	if (len == 0)
		return;
	c->in_process = true;
	n = nghttp2_session_mem_recv(c->h2, evbuffer_pullup(in, len), len);
	c->in_process = false;
	if (n < 0)
	{
		gw_log(GW_LOG_INFO, "HTTP/2 protocol error: %s", nghttp2_strerror((int) n));
		nghttp2_session_terminate_session(c->h2, NGHTTP2_PROTOCOL_ERROR);
		nghttp2_session_send(c->h2);
		c->closing = true;
		return;
	}
	evbuffer_drain(in, (size_t) n);
	h2_flush(c);
}

/* ---------------- connection ---------------- */

/* Called by request.c with the encoded answer in r. */
void
gw_conn_respond(gw_request *r)
{
	gw_conn    *c = r->conn;

	if (c->proto == P_H2)
		h2_respond(c, r);
	else
		h1_respond(c, r);

	/*
	 * An answer written at once (sockio.c) leaves the output empty here; when
	 * this runs inside the parser (a request refused as it was read),
	 * conn_read frees the connection once the parser has returned.
	 */
	if (c->closing && !c->in_process && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_free(c);
}

static void
conn_free(gw_conn *c)
{
	while (c->requests)
	{
		gw_request *r = c->requests;

		c->requests = r->next;
		if (c->h2 && r->stream_id)
			nghttp2_session_set_stream_user_data(c->h2, r->stream_id, NULL);
		gw_request_free(r);
	}
	if (c->h2)
		nghttp2_session_del(c->h2);
	free(c->hfield);
	free(c->hvalue);
	bufferevent_free(c->bev);
	free(c);
	nconns--;
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	gw_conn    *c = arg;

	/* the rest of what the client sent, in one read (sockio.c) */
	gw_sock_fill(bev);
	if (c->proto == P_UNKNOWN)
	{
		struct evbuffer *in = bufferevent_get_input(bev);
		size_t		len = evbuffer_get_length(in);
		size_t		cmp = len < PREFACE_LEN ? len : PREFACE_LEN;

		if (memcmp(evbuffer_pullup(in, cmp), PREFACE, cmp) == 0)
		{
			if (len < PREFACE_LEN)
				return;
			c->proto = P_H2;
			h2_start(c);
		}
		else
		{
			c->proto = P_H1;
			http_parser_init(&c->parser, HTTP_REQUEST);
			c->parser.data = c;
		}
	}
	if (c->proto == P_H2)
		h2_process(c);
	else
		h1_process(c);
	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void
conn_write(struct bufferevent *bev, void *arg)
{
	gw_conn    *c = arg;

	if (c->proto == P_H2 && !c->closing)
		h2_flush(c);
	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	gw_conn    *c = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && c->requests &&
		!(c->proto == P_H1 && c->cur))
	{
		/* waiting for the database, not for the client */
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		gw_log(GW_LOG_INFO, "closing a connection idle or slow for %d s", gw_conf->client_timeout);
	else if (what & BEV_EVENT_ERROR)
	{
		unsigned long e = bufferevent_get_openssl_error(bev);

		if (e)
			gw_log(GW_LOG_INFO, "TLS error: %s", ERR_reason_error_string(e));
	}
	conn_free(c);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	gw_conn    *c;
	struct timeval tv = {gw_conf->client_timeout, 0};

	if (nconns >= gw_conf->max_connections)
	{
		gw_log(GW_LOG_WARN, "refusing a connection: max_connections (%d) reached", gw_conf->max_connections);
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(gw_conn));
	if (ssl_ctx)
		c->bev = bufferevent_openssl_socket_new(gw_base, fd, SSL_new(ssl_ctx), BUFFEREVENT_SSL_ACCEPTING,
												BEV_OPT_CLOSE_ON_FREE);
	else
		c->bev = bufferevent_socket_new(gw_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
	{
		evutil_closesocket(fd);
		free(c);
		return;
	}
	nconns++;
	{
		/* small frames (HTTP/2 windows, events) must not wait for delayed ACKs */
		int			one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	/* a GetRecords answer in one write (not 16 KiB each); large reads: gw_sock_fill */
	bufferevent_set_max_single_write(c->bev, 1024 * 1024);
	bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
			unsigned int inlen, void *arg)
{
	if (nghttp2_select_next_protocol((unsigned char **) out, outlen, in, inlen) < 0)
		return SSL_TLSEXT_ERR_NOACK;
	return SSL_TLSEXT_ERR_OK;
}

/* Load the certificate when one is configured (ALPN h2, http/1.1). */
int
gw_tls_setup(char *err, size_t errlen)
{
	SSL_CTX    *ctx;

	if (!gw_conf->tls_cert)
	{
		if (ssl_ctx)
			SSL_CTX_free(ssl_ctx);
		ssl_ctx = NULL;
		return 0;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, gw_conf->tls_cert) != 1 ||
		SSL_CTX_use_PrivateKey_file(ctx, gw_conf->tls_key, SSL_FILETYPE_PEM) != 1 ||
		SSL_CTX_check_private_key(ctx) != 1)
	{
		snprintf(err, errlen, "TLS certificate %s / key %s: %s", gw_conf->tls_cert, gw_conf->tls_key,
				 ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return -1;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (ssl_ctx)
		SSL_CTX_free(ssl_ctx);
	ssl_ctx = ctx;
	return 0;
}

/* Bind and listen on the configured address. */
int
gw_listen_start(char *err, size_t errlen)
{
	struct evutil_addrinfo hints = {0},
			   *ai = NULL;
	char		port[16];
	int			rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE;
	snprintf(port, sizeof(port), "%d", gw_conf->listen_port);
	if ((rc = evutil_getaddrinfo(gw_conf->listen_host, port, &hints, &ai)) != 0)
	{
		snprintf(err, errlen, "listen %s:%d: %s", gw_conf->listen_host, gw_conf->listen_port,
				 evutil_gai_strerror(rc));
		return -1;
	}
	listener = evconnlistener_new_bind(gw_base, on_accept, NULL,
									   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
									   1024, ai->ai_addr, (int) ai->ai_addrlen);
	evutil_freeaddrinfo(ai);
	if (!listener)
	{
		snprintf(err, errlen, "listen %s:%d: %s", gw_conf->listen_host, gw_conf->listen_port, strerror(errno));
		return -1;
	}
	return 0;
}

void
gw_listen_stop(void)
{
	if (listener)
		evconnlistener_free(listener);
	listener = NULL;
}
