/*
 * codec.c - the two body encodings of the Kinesis wire protocol.
 *
 * Requests and responses are handled as json-c objects in the JSON 1.1
 * shape (blobs as base64 strings, timestamps as epoch seconds).  CBOR
 * bodies (application/x-amz-cbor-1.1) are converted with libcbor: byte
 * strings become base64 strings, tag 1 timestamps become epoch seconds
 * (an integer inside the tag is epoch milliseconds, as the Java SDK sends
 * it); on the way out, members named "Data" go back to byte strings and
 * members ending in "Timestamp" to tag 1 with integer milliseconds.
 * Also base64, and one-dimensional arrays in PostgreSQL's binary format
 * (array_recv), the parameters of the put path (Data decoded straight
 * into a bytea[]).  Pure functions; no shared state.
 */
#include "gw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/evp.h>

#define MAX_DEPTH 64

/* Base64 of len bytes, NUL-terminated, malloc'd. */
char *
gw_base64_encode(const unsigned char *data, size_t len)
{
	char	   *out = malloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *) out, data, (int) len);
	return out;
}

/*
 * The value of each base64 character shifted to its place in a quantum of
 * four characters (b64_shifted[k][c] = value << (18 - 6 * k)), and
 * B64_INVALID for every other byte: a quantum decodes as the OR of four
 * lookups, and one test of the high byte finds any character outside the
 * alphabet.  Filled once (the gateway is single-threaded).
 */
#define B64_INVALID 0x01000000u
static uint32_t b64_shifted[4][256];

static void
b64_init(void)
{
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (int k = 0; k < 4; k++)
		for (int c = 0; c < 256; c++)
			b64_shifted[k][c] = B64_INVALID;
	for (int i = 0; i < 64; i++)
		for (int k = 0; k < 4; k++)
			b64_shifted[k][(unsigned char) alphabet[i]] = (uint32_t) i << (18 - 6 * k);
}

/*
 * Decode n bytes of standard base64 (padded) into out, which has room for
 * n / 4 * 3 bytes; false when s is not base64: a length that is not a
 * multiple of 4, a character outside the alphabet, or '=' anywhere but as
 * the last one or two characters.  Table-driven (the put path decodes every
 * record's Data): every quantum but the last is four lookups and one test;
 * the last one handles the padding.
 */
static bool
base64_decode_into(const char *s, size_t n, unsigned char *out, size_t *len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		o = 0,
				i;
	uint32_t	v;
	int			pad = 0;

	if (n % 4 != 0)
		return false;
	if (n == 0)
	{
		*len = 0;
		return true;
	}
	if (b64_shifted[0][0] == 0)
		b64_init();
	for (i = 0; i + 4 < n; i += 4)
	{
		v = b64_shifted[0][p[i]] | b64_shifted[1][p[i + 1]] |
			b64_shifted[2][p[i + 2]] | b64_shifted[3][p[i + 3]];
		if (v & B64_INVALID)
			return false;
		out[o] = (unsigned char) (v >> 16);
		out[o + 1] = (unsigned char) (v >> 8);
		out[o + 2] = (unsigned char) v;
		o += 3;
	}
	/* the last quantum: "xx==", "xxx=" or "xxxx" ('=' counts as 0) */
	if (p[i + 3] == '=')
		pad = p[i + 2] == '=' ? 2 : 1;
	v = b64_shifted[0][p[i]] | b64_shifted[1][p[i + 1]] |
		(pad == 2 ? 0 : b64_shifted[2][p[i + 2]]) | (pad >= 1 ? 0 : b64_shifted[3][p[i + 3]]);
	if (v & B64_INVALID)
		return false;
	out[o++] = (unsigned char) (v >> 16);
	if (pad < 2)
		out[o++] = (unsigned char) (v >> 8);
	if (pad < 1)
		out[o++] = (unsigned char) v;
	*len = o;
	return true;
}

/* Decode standard base64 (padded); NULL when s is not base64. */
unsigned char *
gw_base64_decode(const char *s, size_t *len)
{
	size_t		n = strlen(s);
	unsigned char *out = malloc(n / 4 * 3 + 1);

	if (!base64_decode_into(s, n, out, len))
	{
		free(out);
		return NULL;
	}
	return out;
}

/* Make room for more bytes at the end of b. */
void
gw_buf_reserve(gw_buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	b->cap = (b->len + more) * 2 + 64;
	b->data = realloc(b->data, b->cap);
}

static void
buf_put_int32(gw_buf *b, uint32_t v)
{
	gw_buf_reserve(b, 4);
	b->data[b->len++] = (char) (v >> 24);
	b->data[b->len++] = (char) (v >> 16);
	b->data[b->len++] = (char) (v >> 8);
	b->data[b->len++] = (char) v;
}

/*
 * Start a one-dimensional array of n elements of elemtype in PostgreSQL's
 * binary format (array_recv): ndim, has-null flag, element type, then
 * length and lower bound of the dimension; n gw_array_put calls follow.
 */
void
gw_array_start(gw_buf *b, Oid elemtype, int n)
{
	b->len = 0;
	buf_put_int32(b, n > 0 ? 1 : 0);
	buf_put_int32(b, 0);
	buf_put_int32(b, elemtype);
	if (n > 0)
	{
		buf_put_int32(b, (uint32_t) n);
		buf_put_int32(b, 1);
	}
}

/* Set the element count of an array started with n > 0 (gw_array_start). */
void
gw_array_count(gw_buf *b, int n)
{
	b->data[12] = (char) (n >> 24);
	b->data[13] = (char) (n >> 16);
	b->data[14] = (char) (n >> 8);
	b->data[15] = (char) n;
}

/* Append an element of len bytes (the type's binary form); len < 0 is NULL. */
void
gw_array_put(gw_buf *b, const char *data, int len)
{
	if (len < 0)
	{
		b->data[7] = 1;			/* the has-null flag */
		buf_put_int32(b, (uint32_t) -1);
		return;
	}
	buf_put_int32(b, (uint32_t) len);
	gw_buf_reserve(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

/* Append a bytea element decoded from slen bytes of base64; false if invalid. */
bool
gw_array_put_base64(gw_buf *b, const char *s, size_t slen)
{
	size_t		at = b->len,
				n;

	buf_put_int32(b, 0);
	gw_buf_reserve(b, slen / 4 * 3 + 1);
	if (!base64_decode_into(s, slen, (unsigned char *) b->data + b->len, &n))
	{
		b->len = at;
		return false;
	}
	b->len += n;
	b->data[at] = (char) (n >> 24);
	b->data[at + 1] = (char) (n >> 16);
	b->data[at + 2] = (char) (n >> 8);
	b->data[at + 3] = (char) n;
	return true;
}

/* Concatenate a (possibly chunked) CBOR byte or text string. */
static unsigned char *
cbor_flat_string(cbor_item_t *it, size_t *len, bool text)
{
	unsigned char *out;
	size_t		total = 0;

	if (text ? cbor_string_is_definite(it) : cbor_bytestring_is_definite(it))
	{
		size_t		l = text ? cbor_string_length(it) : cbor_bytestring_length(it);

		out = malloc(l + 1);
		if (l)
			memcpy(out, text ? cbor_string_handle(it) : cbor_bytestring_handle(it), l);
		out[l] = '\0';
		*len = l;
		return out;
	}
	{
		size_t		nchunks = text ? cbor_string_chunk_count(it) : cbor_bytestring_chunk_count(it);
		cbor_item_t **chunks = text ? cbor_string_chunks_handle(it) : cbor_bytestring_chunks_handle(it);

		for (size_t i = 0; i < nchunks; i++)
			total += text ? cbor_string_length(chunks[i]) : cbor_bytestring_length(chunks[i]);
		out = malloc(total + 1);
		total = 0;
		for (size_t i = 0; i < nchunks; i++)
		{
			size_t		l = text ? cbor_string_length(chunks[i]) : cbor_bytestring_length(chunks[i]);

			if (l)
				memcpy(out + total, text ? cbor_string_handle(chunks[i]) : cbor_bytestring_handle(chunks[i]), l);
			total += l;
		}
		out[total] = '\0';
		*len = total;
		return out;
	}
}

static json_object *
cbor_item_to_json(cbor_item_t *it, int depth, char *err, size_t errlen)
{
	if (depth > MAX_DEPTH)
	{
		snprintf(err, errlen, "CBOR nested too deeply");
		return NULL;
	}
	switch (cbor_typeof(it))
	{
		case CBOR_TYPE_UINT:
			{
				uint64_t	v = cbor_get_int(it);

				if (v > INT64_MAX)
				{
					snprintf(err, errlen, "CBOR integer out of range");
					return NULL;
				}
				return json_object_new_int64((int64_t) v);
			}
		case CBOR_TYPE_NEGINT:
			{
				uint64_t	v = cbor_get_int(it);

				if (v > INT64_MAX)
				{
					snprintf(err, errlen, "CBOR integer out of range");
					return NULL;
				}
				return json_object_new_int64(-1 - (int64_t) v);
			}
		case CBOR_TYPE_BYTESTRING:
			{
				size_t		l;
				unsigned char *b = cbor_flat_string(it, &l, false);
				char	   *s = gw_base64_encode(b, l);
				json_object *o = json_object_new_string(s);

				free(b);
				free(s);
				return o;
			}
		case CBOR_TYPE_STRING:
			{
				size_t		l;
				unsigned char *b = cbor_flat_string(it, &l, true);
				json_object *o = json_object_new_string_len((char *) b, (int) l);

				free(b);
				return o;
			}
		case CBOR_TYPE_ARRAY:
			{
				json_object *a = json_object_new_array();
				cbor_item_t **h = cbor_array_handle(it);

				for (size_t i = 0; i < cbor_array_size(it); i++)
				{
					json_object *v = cbor_item_to_json(h[i], depth + 1, err, errlen);

					if (!v && *err)
					{
						json_object_put(a);
						return NULL;
					}
					json_object_array_add(a, v);
				}
				return a;
			}
		case CBOR_TYPE_MAP:
			{
				json_object *m = json_object_new_object();
				struct cbor_pair *h = cbor_map_handle(it);

				for (size_t i = 0; i < cbor_map_size(it); i++)
				{
					size_t		kl;
					unsigned char *k;
					json_object *v;

					if (cbor_typeof(h[i].key) != CBOR_TYPE_STRING)
					{
						snprintf(err, errlen, "CBOR map keys must be text strings");
						json_object_put(m);
						return NULL;
					}
					v = cbor_item_to_json(h[i].value, depth + 1, err, errlen);
					if (!v && *err)
					{
						json_object_put(m);
						return NULL;
					}
					k = cbor_flat_string(h[i].key, &kl, true);
					json_object_object_add(m, (char *) k, v);
					free(k);
				}
				return m;
			}
		case CBOR_TYPE_TAG:
			{
				cbor_item_t *inner = cbor_tag_item(it);
				json_object *o;

				if (cbor_tag_value(it) == 1 &&
					(cbor_typeof(inner) == CBOR_TYPE_UINT || cbor_typeof(inner) == CBOR_TYPE_NEGINT))
				{
					double		ms = (double) cbor_get_int(inner);

					if (cbor_typeof(inner) == CBOR_TYPE_NEGINT)
						ms = -1 - ms;
					o = json_object_new_double(ms / 1000.0);
				}
				else
					o = cbor_item_to_json(inner, depth + 1, err, errlen);
				cbor_decref(&inner);
				return o;
			}
		case CBOR_TYPE_FLOAT_CTRL:
			if (cbor_float_ctrl_is_ctrl(it))
			{
				if (cbor_is_bool(it))
					return json_object_new_boolean(cbor_get_bool(it));
				return NULL;	/* null, undefined */
			}
			{
				double		d = cbor_float_get_float(it);

				if (!isfinite(d))
				{
					snprintf(err, errlen, "CBOR number is not finite");
					return NULL;
				}
				return json_object_new_double(d);
			}
	}
	snprintf(err, errlen, "unsupported CBOR item");
	return NULL;
}

/*
 * Pre-pass with libcbor's streaming decoder: cbor_load allocates a definite
 * array or map of the declared size before reading it, so a 9-byte body
 * could ask for gigabytes.  Every member takes at least one byte, so no
 * honest declaration is larger than the body.
 */
typedef struct size_check
{
	size_t		limit;
	bool		bad;
} size_check;

static void
check_array(void *ctx, size_t n)
{
	size_check *c = ctx;

	if (n > c->limit)
		c->bad = true;
}

static void
check_map(void *ctx, size_t n)
{
	size_check *c = ctx;

	if (n > c->limit / 2)
		c->bad = true;
}

static bool
cbor_sizes_ok(const unsigned char *buf, size_t len)
{
	struct cbor_callbacks cb = cbor_empty_callbacks;
	size_check	c = {len, false};
	size_t		pos = 0;

	cb.array_start = check_array;
	cb.map_start = check_map;
	while (pos < len && !c.bad)
	{
		struct cbor_decoder_result r = cbor_stream_decode(buf + pos, len - pos, &cb, &c);

		if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
			return false;
		pos += r.read;
	}
	return !c.bad;
}

/* Decode a CBOR body into the JSON shape; NULL with err set on error. */
json_object *
gw_cbor_to_json(const unsigned char *buf, size_t len, char *err, size_t errlen)
{
	struct cbor_load_result res;
	cbor_item_t *it;
	json_object *o;

	err[0] = '\0';
	if (!cbor_sizes_ok(buf, len))
	{
		snprintf(err, errlen, "malformed CBOR: an item is cut short or declares more members than the body holds");
		return NULL;
	}
	it = cbor_load(buf, len, &res);
	if (!it || res.error.code != CBOR_ERR_NONE)
	{
		snprintf(err, errlen, "malformed CBOR at byte %zu", res.error.position);
		if (it)
			cbor_decref(&it);
		return NULL;
	}
	if (res.read != len)
	{
		snprintf(err, errlen, "trailing bytes after the CBOR item");
		cbor_decref(&it);
		return NULL;
	}
	o = cbor_item_to_json(it, 0, err, errlen);
	cbor_decref(&it);
	if (!o && !*err)
		snprintf(err, errlen, "the CBOR body is null");
	return o;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t		a = strlen(s),
				b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* An unsigned integer in its shortest encoding. */
static cbor_item_t *
build_uint(uint64_t v)
{
	if (v <= UINT8_MAX)
		return cbor_build_uint8((uint8_t) v);
	if (v <= UINT16_MAX)
		return cbor_build_uint16((uint16_t) v);
	if (v <= UINT32_MAX)
		return cbor_build_uint32((uint32_t) v);
	return cbor_build_uint64(v);
}

static cbor_item_t *
json_to_cbor_item(json_object *o, const char *key)
{
	switch (json_object_get_type(o))
	{
		case json_type_null:
			return cbor_new_null();
		case json_type_boolean:
			return cbor_build_bool(json_object_get_boolean(o));
		case json_type_double:
		case json_type_int:
			if (key && ends_with(key, "Timestamp"))
				return cbor_build_tag(1, cbor_move(build_uint(
					(uint64_t) llround(json_object_get_double(o) * 1000.0))));
			if (json_object_get_type(o) == json_type_double)
				return cbor_build_float8(json_object_get_double(o));
			{
				int64_t		v = json_object_get_int64(o);

				if (v >= 0)
					return build_uint((uint64_t) v);
				{
					cbor_item_t *n = build_uint((uint64_t) (-1 - v));

					cbor_mark_negint(n);
					return n;
				}
			}
		case json_type_string:
			if (key && strcmp(key, "Data") == 0)
			{
				size_t		l;
				unsigned char *b = gw_base64_decode(json_object_get_string(o), &l);

				if (b)
				{
					cbor_item_t *it = cbor_build_bytestring(b, l);

					free(b);
					return it;
				}
			}
			return cbor_build_stringn(json_object_get_string(o), json_object_get_string_len(o));
		case json_type_array:
			{
				size_t		n = json_object_array_length(o);
				cbor_item_t *a = cbor_new_definite_array(n);

				for (size_t i = 0; i < n; i++)
					cbor_array_push(a, cbor_move(json_to_cbor_item(json_object_array_get_idx(o, i), NULL)));
				return a;
			}
		case json_type_object:
			{
				cbor_item_t *m = cbor_new_definite_map(json_object_object_length(o));

				json_object_object_foreach(o, k, v)
				{
					cbor_map_add(m, (struct cbor_pair)
								 {
								 .key = cbor_move(cbor_build_string(k)),
									 .value = cbor_move(json_to_cbor_item(v, k))
								 });
				}
				return m;
			}
	}
	return cbor_new_null();
}

/* Encode a response object as CBOR; malloc'd buffer, its length in *len. */
unsigned char *
gw_json_to_cbor(json_object *o, size_t *len)
{
	cbor_item_t *it = json_to_cbor_item(o, NULL);
	unsigned char *buf = NULL;
	size_t		cap = 0;

	*len = cbor_serialize_alloc(it, &buf, &cap);
	cbor_decref(&it);
	return buf;
}
