/*
 * sigv4.c - AWS Signature Version 4 verification (HMAC-SHA256, OpenSSL).
 *
 * The canonical request is rebuilt from what arrived: method, path, the
 * (empty) query, the signed headers in the order the client listed them
 * (over HTTP/2 ":authority" stands for "host" when the client signed it),
 * and the SHA-256 of the body, computed here (x-amz-content-sha256 is not
 * trusted).  X-Amz-Date must be within max_clock_skew of our clock and on
 * the credential scope's day.  Pure functions; no shared state.
 */
#define _GNU_SOURCE
#include "gw.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

static void
hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++)
	{
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
hmac(const unsigned char *key, size_t klen, const char *msg, size_t mlen, unsigned char out[32])
{
	unsigned int l = 32;

	HMAC(EVP_sha256(), key, (int) klen, (const unsigned char *) msg, mlen, out, &l);
}

/* Copy the text after "name=" up to ',' or end into out; false if absent. */
static bool
auth_field(const char *auth, const char *name, char *out, size_t outlen)
{
	const char *p = strstr(auth, name);
	size_t		n;

	if (!p)
		return false;
	p += strlen(name);
	n = strcspn(p, ", ");
	if (n == 0 || n >= outlen)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/*
 * Parse "AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request,
 * SignedHeaders=a;b, Signature=hex" into s.
 */
bool
gw_sigv4_parse(const char *auth, gw_sigv4 *s, gw_err *e)
{
	char		cred[512];
	char	   *parts[5];
	char	   *save = NULL;
	int			n = 0;

	e->status = 400;
	e->type = "IncompleteSignatureException";
	if (!auth)
	{
		e->type = "MissingAuthenticationTokenException";
		snprintf(e->message, sizeof(e->message), "Missing Authentication Token");
		return false;
	}
	if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0 ||
		!auth_field(auth, "Credential=", cred, sizeof(cred)) ||
		!auth_field(auth, "SignedHeaders=", s->signed_headers, sizeof(s->signed_headers)) ||
		!auth_field(auth, "Signature=", s->signature, sizeof(s->signature)) ||
		strlen(s->signature) != 64)
	{
		snprintf(e->message, sizeof(e->message),
				 "Authorization header requires AWS4-HMAC-SHA256 with Credential, SignedHeaders and Signature");
		return false;
	}
	for (char *t = strtok_r(cred, "/", &save); t && n < 5; t = strtok_r(NULL, "/", &save))
		parts[n++] = t;
	if (n != 5 || strtok_r(NULL, "/", &save) || strcmp(parts[4], "aws4_request") != 0 ||
		strlen(parts[0]) >= sizeof(s->access_key) || strlen(parts[1]) != 8 ||
		strlen(parts[2]) >= sizeof(s->region) || strlen(parts[3]) >= sizeof(s->service))
	{
		snprintf(e->message, sizeof(e->message),
				 "Credential must be <access key>/<yyyymmdd>/<region>/<service>/aws4_request");
		return false;
	}
	strcpy(s->access_key, parts[0]);
	strcpy(s->date, parts[1]);
	strcpy(s->region, parts[2]);
	strcpy(s->service, parts[3]);
	return true;
}

/* Append a header value trimmed, inner runs of spaces collapsed. */
static void
append_trimmed(char **buf, size_t *len, size_t *cap, const char *v)
{
	bool		space = false;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++)
	{
		if (*len + 4 >= *cap)
		{
			*cap = *cap * 2 + 64;
			*buf = realloc(*buf, *cap);
		}
		if (*v == ' ' || *v == '\t')
		{
			space = true;
			continue;
		}
		if (space)
			(*buf)[(*len)++] = ' ';
		space = false;
		(*buf)[(*len)++] = *v;
	}
}

static void
append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 >= *cap)
	{
		*cap = (*len + n + 1) * 2;
		*buf = realloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Check the request's signature with the secret; false with e set if bad. */
bool
gw_sigv4_verify(gw_request *r, const gw_sigv4 *s, const char *secret, gw_err *e)
{
	const char *amzdate = gw_request_header(r, "x-amz-date");
	struct tm	tm;
	time_t		t;
	char	   *creq = NULL;
	size_t		len = 0,
				cap = 0;
	unsigned char h[32],
				k[32];
	char		hx[65],
				sig[65],
				sts[512],
				key0[300];
	char		names[1024];
	char	   *save = NULL;
	const char *path = r->path && *r->path ? r->path : "/";
	size_t		qpos = strcspn(path, "?");

	e->status = 400;
	e->type = "InvalidSignatureException";
	if (!amzdate || strlen(amzdate) != 16 || !strptime(amzdate, "%Y%m%dT%H%M%SZ", &tm))
	{
		e->type = "IncompleteSignatureException";
		snprintf(e->message, sizeof(e->message), "X-Amz-Date header missing or not YYYYMMDDTHHMMSSZ");
		return false;
	}
	t = timegm(&tm);
	if (labs((long) (t - time(NULL))) > gw_conf->max_clock_skew)
	{
		snprintf(e->message, sizeof(e->message),
				 "Signature expired: %s is more than %d seconds from the server time",
				 amzdate, gw_conf->max_clock_skew);
		return false;
	}
	if (strncmp(amzdate, s->date, 8) != 0)
	{
		snprintf(e->message, sizeof(e->message), "the credential scope date does not match X-Amz-Date");
		return false;
	}

	/* canonical request */
	append(&creq, &len, &cap, r->method, strlen(r->method));
	append(&creq, &len, &cap, "\n", 1);
	append(&creq, &len, &cap, path, qpos);
	append(&creq, &len, &cap, "\n", 1);
	/* the SDKs send no query string; an unsorted one fails the signature */
	if (path[qpos])
		append(&creq, &len, &cap, path + qpos + 1, strlen(path + qpos + 1));
	append(&creq, &len, &cap, "\n", 1);
	snprintf(names, sizeof(names), "%s", s->signed_headers);
	for (char *n = strtok_r(names, ";", &save); n; n = strtok_r(NULL, ";", &save))
	{
		const char *v = gw_request_header(r, n);

		if (!v && strcmp(n, "host") == 0)
			v = gw_request_header(r, ":authority");
		if (!v && strcmp(n, ":authority") == 0)
			v = gw_request_header(r, "host");
		if (!v)
		{
			free(creq);
			snprintf(e->message, sizeof(e->message), "signed header \"%.100s\" is missing", n);
			return false;
		}
		append(&creq, &len, &cap, n, strlen(n));
		append(&creq, &len, &cap, ":", 1);
		append_trimmed(&creq, &len, &cap, v);
		append(&creq, &len, &cap, "\n", 1);
	}
	append(&creq, &len, &cap, "\n", 1);
	append(&creq, &len, &cap, s->signed_headers, strlen(s->signed_headers));
	append(&creq, &len, &cap, "\n", 1);
	SHA256((const unsigned char *) (r->body ? r->body : ""), r->body_len, h);
	hex(h, 32, hx);
	append(&creq, &len, &cap, hx, 64);
	SHA256((unsigned char *) creq, len, h);
	hex(h, 32, hx);
	free(creq);

	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
			 amzdate, s->date, s->region, s->service, hx);
	snprintf(key0, sizeof(key0), "AWS4%s", secret);
	hmac((unsigned char *) key0, strlen(key0), s->date, strlen(s->date), k);
	hmac(k, 32, s->region, strlen(s->region), k);
	hmac(k, 32, s->service, strlen(s->service), k);
	hmac(k, 32, "aws4_request", 12, k);
	hmac(k, 32, sts, strlen(sts), h);
	hex(h, 32, sig);
	OPENSSL_cleanse(key0, sizeof(key0));
	OPENSSL_cleanse(k, sizeof(k));
	if (CRYPTO_memcmp(sig, s->signature, 64) != 0)
	{
		snprintf(e->message, sizeof(e->message),
				 "The request signature we calculated does not match the signature you provided. "
				 "Check your AWS Secret Access Key and signing method.");
		return false;
	}
	return true;
}
