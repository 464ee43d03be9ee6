/*
 * answer.c - answers written straight into one buffer, as JSON text or as
 * CBOR, for the hot operations (PutRecords, GetRecords): building hundreds
 * of json-c objects per call, serialising and freeing them cost more CPU
 * than the database call itself.
 *
 * The bytes are those gw_request_reply produces from the same json-c tree
 * (codec.c's rules): JSON as json-c writes it with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE (the same string escapes), CBOR with
 * definite lengths, the shortest integer encodings, blobs as byte strings
 * and timestamps as tag 1 with integer milliseconds.  One exception, by
 * value rather than by byte: a timestamp in JSON is PostgreSQL's decimal
 * text of the epoch seconds, where json-c printed the double parsed from it
 * with %.17g; both denote the same double.
 *
 * A gw_out is used by one call on the event-loop thread; its buffer is
 * handed to the request (gw_request_reply_buf) or freed.
 */
#include "gw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/evp.h>

/* Start an answer in the request's content type. */
void
gw_out_init(gw_out *o, bool cbor)
{
	memset(o, 0, sizeof(*o));
	o->cbor = cbor;
	gw_buf_reserve(&o->b, 4096);
}

/* room for len more bytes (the call only when the buffer must grow) */
static inline void
room(gw_out *o, size_t len)
{
	if (o->b.len + len > o->b.cap)
		gw_buf_reserve(&o->b, len);
}

static inline void
put(gw_out *o, const void *data, size_t len)
{
	room(o, len);
	memcpy(o->b.data + o->b.len, data, len);
	o->b.len += len;
}

static inline void
put_char(gw_out *o, char ch)
{
	room(o, 1);
	o->b.data[o->b.len++] = ch;
}

/* A CBOR head (cbor_encode_* with at most 9 bytes). */
#define PUT_CBOR(o, fn, v) \
	do { \
		room((o), 9); \
		(o)->b.len += fn((v), (unsigned char *) (o)->b.data + (o)->b.len, 9); \
	} while (0)

/*
 * Before a member of the current container: count it and, in JSON, write
 * the comma.  A value that follows its key is part of that member.
 */
static void
member(gw_out *o)
{
	if (o->after_key)
	{
		o->after_key = false;
		return;
	}
	if (o->depth == 0)
		return;
	if (!o->cbor && o->written[o->depth] > 0)
		put_char(o, ',');
	o->written[o->depth]++;
}

/* True when JSON writes ch as it is (json-c escapes controls, '"' and '\\'). */
static inline bool
json_plain_char(unsigned char ch)
{
	return ch >= ' ' && ch != '"' && ch != '\\';
}

/* A string as json-c escapes it (NOSLASHESCAPE), or a CBOR text string. */
static void
string(gw_out *o, const char *s, size_t len)
{
	size_t		from = 0;

	if (o->cbor)
	{
		room(o, 9 + len);
		o->b.len += cbor_encode_string_start(len, (unsigned char *) o->b.data + o->b.len, 9);
		put(o, s, len);
		return;
	}
	/* runs of characters without escapes (most strings: all of it) go in one copy */
	put_char(o, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char ch = (unsigned char) s[i];
		char		esc[7];

		if (json_plain_char(ch))
			continue;
		put(o, s + from, i - from);
		from = i + 1;
		switch (ch)
		{
			case '\b':
				put(o, "\\b", 2);
				break;
			case '\n':
				put(o, "\\n", 2);
				break;
			case '\r':
				put(o, "\\r", 2);
				break;
			case '\t':
				put(o, "\\t", 2);
				break;
			case '\f':
				put(o, "\\f", 2);
				break;
			case '"':
				put(o, "\\\"", 2);
				break;
			case '\\':
				put(o, "\\\\", 2);
				break;
			default:
				snprintf(esc, sizeof(esc), "\\u00%c%c", "0123456789abcdef"[ch >> 4], "0123456789abcdef"[ch & 15]);
				put(o, esc, 6);
		}
	}
	put(o, s + from, len - from);
	put_char(o, '"');
}

static void
open_container(gw_out *o, size_t n, bool map)
{
	member(o);
	if (o->depth + 1 >= GW_OUT_DEPTH)
	{
		o->broken = true;
		return;
	}
	o->depth++;
	o->is_map[o->depth] = map;
	o->declared[o->depth] = n;
	o->written[o->depth] = 0;
	if (!o->cbor)
		put_char(o, map ? '{' : '[');
	else if (map)
		PUT_CBOR(o, cbor_encode_map_start, n);
	else
		PUT_CBOR(o, cbor_encode_array_start, n);
}

/* A map of n members (CBOR writes the count first); gw_out_end closes it. */
void
gw_out_map(gw_out *o, size_t n)
{
	open_container(o, n, true);
}

/* An array of n values; gw_out_end closes it. */
void
gw_out_array(gw_out *o, size_t n)
{
	open_container(o, n, false);
}

/* Close the innermost map or array; a count unlike the declared one breaks the answer. */
void
gw_out_end(gw_out *o)
{
	if (o->depth == 0)
	{
		o->broken = true;
		return;
	}
	if (o->written[o->depth] != o->declared[o->depth])
		o->broken = true;
	if (!o->cbor)
		put_char(o, o->is_map[o->depth] ? '}' : ']');
	o->depth--;
}

/*
 * The key of the next member of the current map: a member name of the API,
 * which needs no escape.
 */
void
gw_out_key(gw_out *o, const char *key)
{
	size_t		len = strlen(key);

	member(o);
	room(o, len + 9);
	if (o->cbor)
		o->b.len += cbor_encode_string_start(len, (unsigned char *) o->b.data + o->b.len, 9);
	else
		o->b.data[o->b.len++] = '"';
	memcpy(o->b.data + o->b.len, key, len);
	o->b.len += len;
	if (!o->cbor)
	{
		o->b.data[o->b.len++] = '"';
		o->b.data[o->b.len++] = ':';
	}
	o->after_key = true;
}

void
gw_out_str(gw_out *o, const char *s, size_t len)
{
	member(o);
	string(o, s, len);
}

/* A blob: a base64 JSON string, or a CBOR byte string. */
void
gw_out_blob(gw_out *o, const unsigned char *data, size_t len)
{
	member(o);
	if (o->cbor)
	{
		room(o, 9 + len);
		o->b.len += cbor_encode_bytestring_start(len, (unsigned char *) o->b.data + o->b.len, 9);
		put(o, data, len);
		return;
	}
	room(o, 4 * ((len + 2) / 3) + 3);
	o->b.data[o->b.len++] = '"';
	o->b.len += EVP_EncodeBlock((unsigned char *) o->b.data + o->b.len, data, (int) len);
	o->b.data[o->b.len++] = '"';
}

void
gw_out_int(gw_out *o, int64_t v)
{
	member(o);
	if (!o->cbor)
	{
		char		nb[24];

		put(o, nb, snprintf(nb, sizeof(nb), "%lld", (long long) v));
	}
	else if (v >= 0)
		PUT_CBOR(o, cbor_encode_uint, (uint64_t) v);
	else
		PUT_CBOR(o, cbor_encode_negint, (uint64_t) (-1 - v));
}

/* True when s is a JSON number without exponent: -?(0|[1-9][0-9]*)(\.[0-9]+)? */
static bool
plain_decimal(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return false;
	if (*s == '.')
	{
		if (!(*++s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/*
 * A timestamp from PostgreSQL's text of epoch seconds: in JSON that number
 * (json-c's rendering of its double when it is not a plain decimal), in
 * CBOR tag 1 around the integer milliseconds.
 */
void
gw_out_epoch(gw_out *o, const char *text)
{
	if (o->cbor)
	{
		member(o);
		PUT_CBOR(o, cbor_encode_tag, 1);
		PUT_CBOR(o, cbor_encode_uint, (uint64_t) llround(strtod(text, NULL) * 1000.0));
	}
	else if (plain_decimal(text))
	{
		member(o);
		put(o, text, strlen(text));
	}
	else
	{
		json_object *v = json_object_new_double(strtod(text, NULL));

		gw_out_json(o, v);
		json_object_put(v);
	}
}

/* A json-c value (a rare part of a hot answer), as gw_request_reply encodes it. */
void
gw_out_json(gw_out *o, json_object *v)
{
	member(o);
	if (o->cbor)
	{
		size_t		len;
		unsigned char *c = gw_json_to_cbor(v, &len);

		put(o, c, len);
		free(c);
	}
	else
	{
		const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

		put(o, s, strlen(s));
	}
}

/* True when the answer is complete and every count matched. */
bool
gw_out_done(gw_out *o)
{
	return !o->broken && o->depth == 0 && !o->after_key;
}
