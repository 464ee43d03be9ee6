/*-------------------------------------------------------------------------
 *
 * crawl_sample.c
 *		Reading a sample of a file (gzip or not) and inferring its schema:
 *
 *		glue._sample_file(path text, sample_bytes int, sample_rows int,
 *		                  csv_header text) -> jsonb
 *		glue._infer_records(records bytea[], sample_rows int) -> jsonb
 *
 * The result describes what was found, and never fails because of what a
 * file contains:
 *   {"classification": "csv" | "json" | "unknown", "compression": "gzip" |
 *    "none", "delimiter": ",", "header": true, "columns": [{"name", "type"}],
 *    "records": n, "bytes_sampled": n, "truncated": bool, "bad_utf8": n,
 *    "ragged": n, "invalid_json": n, "error": "..."}
 * bad_utf8 counts lines that are not valid UTF-8 (skipped), ragged counts
 * CSV rows with another number of fields than the table's (skipped),
 * invalid_json counts JSON lines that do not parse or are not objects.
 *
 * Sampling: the first sample_bytes bytes (after decompression) and at most
 * sample_rows records; a line cut by the byte limit is dropped.  Reading a
 * 1 GB file costs the same as reading sample_bytes of it.
 *
 * Classification: by the name (.csv .tsv .psv, .json .jsonl .ndjson, each
 * optionally .gz), otherwise by the content (a first "{" or "[" is JSON,
 * anything else CSV).  CSV: the delimiter is the first of , | tab ; that
 * splits the first records into the same number (at least 2) of fields;
 * fields may be quoted with "" as an escaped quote.  The first row is a
 * header (with csv_header UNKNOWN) when all its cells are text, and at
 * least one column of the other rows is not: Glue's rule.  Without a
 * header the columns are col0, col1, ...
 *
 * Rights: as glue._list_files (crawl_files.c).  Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <zlib.h>

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "common/kg_json.h"
#include "glue/crawler.h"

PG_FUNCTION_INFO_V1(kg_glue_sample_file);
PG_FUNCTION_INFO_V1(kg_glue_infer_records);

extern void kg_glue_check_read_path(const char *path);

/* What a sample gave. */
typedef struct KgSample
{
	const char *classification;
	bool		gzip;
	char		delimiter;
	bool		header;
	KgType	   *record;			/* struct of the columns */
	int64		records;
	int64		bytes;
	bool		truncated;
	int64		bad_utf8;
	int64		ragged;
	int64		invalid_json;
	char	   *error;
} KgSample;

/* ------------------------------------------------------------------------
 * JSON records
 * ------------------------------------------------------------------------ */

typedef struct KgJsonBuild
{
	KgType	   *stack[KG_TYPE_MAX_DEPTH + 2];
	char	   *pending[KG_TYPE_MAX_DEPTH + 2];
	int			depth;
	KgType	   *root;
} KgJsonBuild;

static void
kg_json_attach(KgJsonBuild *b, KgType *t)
{
	KgType	   *parent;

	if (b->depth == 0)
	{
		b->root = t;
		return;
	}
	parent = b->stack[b->depth - 1];
	if (parent->kind == KGT_STRUCT)
		kg_type_add_field(parent, b->pending[b->depth - 1] ? b->pending[b->depth - 1] : "_col", t);
	else
		parent->elem = kg_type_merge(parent->elem, t);
}

static void
kg_json_push(KgJsonBuild *b, KgTypeKind kind)
{
	Assert(b->depth <= KG_TYPE_MAX_DEPTH);
	b->pending[b->depth] = NULL;
	b->stack[b->depth++] = kg_type_new(kind);
}

static void
kg_json_object_start(void *state)
{
	kg_json_push((KgJsonBuild *) state, KGT_STRUCT);
}

static void
kg_json_array_start(void *state)
{
	kg_json_push((KgJsonBuild *) state, KGT_ARRAY);
}

static void
kg_json_end(void *state)
{
	KgJsonBuild *b = (KgJsonBuild *) state;
	KgType	   *t = b->stack[--b->depth];

	kg_json_attach(b, t);
}

static void
kg_json_field(void *state, char *fname, bool isnull)
{
	KgJsonBuild *b = (KgJsonBuild *) state;

	b->pending[b->depth - 1] = kg_column_name(fname ? fname : "", fname ? strlen(fname) : 0);
}

static void
kg_json_scalar(void *state, char *token, JsonTokenType tokentype)
{
	KgTypeKind	kind = KGT_STRING;

	switch (tokentype)
	{
		case JSON_TOKEN_STRING:
			kind = token ? kg_classify_scalar(token, strlen(token), false) : KGT_STRING;
			if (kind != KGT_DATE && kind != KGT_TIMESTAMP)
				kind = KGT_STRING;	/* "12" in JSON is text */
			break;
		case JSON_TOKEN_NUMBER:
			kind = kg_classify_scalar(token, strlen(token), true);
			break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			kind = KGT_BOOLEAN;
			break;
		default:
			kind = KGT_UNKNOWN;
			break;
	}
	kg_json_attach((KgJsonBuild *) state, kg_type_new(kind));
}

/* kg_json_depth (src/common/kg_json.c) refuses deeply nested input first. */

/*
 * Infer the type of one JSON record (len bytes at s, valid UTF-8); merge it
 * into sample->record when it is an object, else count it invalid.
 */
static void
kg_json_record(KgSample *sample, const char *s, int len)
{
	KgJsonBuild b;
	JsonSemAction sem;
	JsonLexContext *lex;
	char	   *copy;

	if (kg_json_depth(s, len) > KG_TYPE_MAX_DEPTH)
	{
		sample->invalid_json++;
		return;
	}
	copy = pnstrdup(s, len);
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		/*
		 * The parser converts \uXXXX escapes to the server encoding and
		 * raises an error where it cannot; names are folded to ASCII anyway,
		 * so replace such escapes (but \u0000) by "_".
		 */
		for (char *p = copy; (p = strstr(p, "\\u")) != NULL; p += 2)
		{
			if (p > copy && p[-1] == '\\')
				continue;
			if (strlen(p) >= 6 && strncmp(p + 2, "0000", 4) != 0)
				memcpy(p + 2, "005f", 4);
		}
	}
	memset(&b, 0, sizeof(b));
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &b;
	sem.object_start = kg_json_object_start;
	sem.object_end = kg_json_end;
	sem.array_start = kg_json_array_start;
	sem.array_end = kg_json_end;
	sem.object_field_start = kg_json_field;
	sem.scalar = kg_json_scalar;
	lex = makeJsonLexContextCstringLen(copy, len, GetDatabaseEncoding(), true);
	if (pg_parse_json(lex, &sem) != JSON_SUCCESS || b.root == NULL || b.root->kind != KGT_STRUCT)
	{
		sample->invalid_json++;
		return;
	}
	sample->record = kg_type_merge(sample->record, b.root);
	sample->records++;
}

/* ------------------------------------------------------------------------
 * CSV
 * ------------------------------------------------------------------------ */

typedef struct KgCsvRecord
{
	int			nfields;
	int			max;
	int		   *offsets;		/* into scratch */
	int		   *lens;
	StringInfoData scratch;
} KgCsvRecord;

/*
 * Parse the next record of buf[*pos..len) split by delim into rec; false at
 * the end (or at an unterminated quote).  Empty lines are skipped.
 */
static bool
kg_csv_next(const char *buf, int len, int *pos, char delim, KgCsvRecord *rec)
{
	int			i = *pos;

	for (;;)
	{
		while (i < len && (buf[i] == '\n' || buf[i] == '\r'))
			i++;				/* empty lines */
		if (i >= len)
		{
			*pos = i;
			return false;
		}
		resetStringInfo(&rec->scratch);
		rec->nfields = 0;
		for (;;)
		{
			int			start = rec->scratch.len;

			if (rec->nfields == rec->max)
			{
				rec->max = Max(16, rec->max * 2);
				rec->offsets = rec->offsets ? repalloc(rec->offsets, sizeof(int) * rec->max) : palloc(sizeof(int) * rec->max);
				rec->lens = rec->lens ? repalloc(rec->lens, sizeof(int) * rec->max) : palloc(sizeof(int) * rec->max);
			}
			if (i < len && buf[i] == '"')
			{
				i++;
				for (;;)
				{
					if (i >= len)
					{
						*pos = len;
						return false;	/* unterminated (cut by the sample) */
					}
					if (buf[i] == '"')
					{
						if (i + 1 < len && buf[i + 1] == '"')
						{
							appendStringInfoChar(&rec->scratch, '"');
							i += 2;
							continue;
						}
						i++;
						break;
					}
					appendStringInfoChar(&rec->scratch, buf[i++]);
				}
				/* anything up to the delimiter after the closing quote is kept */
				while (i < len && buf[i] != delim && buf[i] != '\n')
				{
					if (buf[i] != '\r')
						appendStringInfoChar(&rec->scratch, buf[i]);
					i++;
				}
			}
			else
			{
				while (i < len && buf[i] != delim && buf[i] != '\n')
				{
					if (buf[i] != '\r')
						appendStringInfoChar(&rec->scratch, buf[i]);
					i++;
				}
			}
			rec->offsets[rec->nfields] = start;
			rec->lens[rec->nfields] = rec->scratch.len - start;
			rec->nfields++;
			if (i < len && buf[i] == delim)
			{
				i++;
				continue;
			}
			break;
		}
		if (i < len)
			i++;				/* the newline */
		*pos = i;
		return true;
	}
}

#define KG_CSV_FIELD(rec, k) ((rec)->scratch.data + (rec)->offsets[k])

/* The delimiter that splits the first records into the most equal rows. */
static char
kg_csv_delimiter(const char *buf, int len, int *modal)
{
	const char *candidates = ",|\t;";
	char		best = ',';
	int			best_score = 0;
	KgCsvRecord rec;

	memset(&rec, 0, sizeof(rec));
	initStringInfo(&rec.scratch);
	*modal = 1;
	for (const char *c = candidates; *c; c++)
	{
		int			counts[20];
		int			n = 0,
					pos = 0;

		while (n < 20 && kg_csv_next(buf, len, &pos, *c, &rec))
			counts[n++] = rec.nfields;
		for (int i = 0; i < n; i++)
		{
			int			same = 0;

			for (int j = 0; j < n; j++)
				same += counts[j] == counts[i];
			if (counts[i] >= 2 && same > best_score)
			{
				best_score = same;
				best = *c;
				*modal = counts[i];
			}
		}
	}
	return best;
}

/* Infer a CSV sample. */
static void
kg_csv_sample(KgSample *sample, const char *buf, int len, int max_rows, const char *header_mode, char forced)
{
	KgCsvRecord rec;
	int			pos = 0;
	int			expected;
	char	  **first = NULL;
	int		   *first_lens = NULL;
	int			nfirst = 0;
	KgType	  **cols;
	bool		header = false;

	memset(&rec, 0, sizeof(rec));
	initStringInfo(&rec.scratch);
	sample->delimiter = forced ? forced : kg_csv_delimiter(buf, len, &expected);
	if (forced)
	{
		expected = 0;
		if (kg_csv_next(buf, len, &pos, forced, &rec))
			expected = rec.nfields;
		pos = 0;
	}
	if (!kg_csv_next(buf, len, &pos, sample->delimiter, &rec))
		return;					/* no records */
	if (expected > KG_TYPE_MAX_FIELDS || rec.nfields > KG_TYPE_MAX_FIELDS)
	{
		/* too wide to be a table: counted, and the file gives no columns */
		sample->ragged++;
		return;
	}
	if (rec.nfields == expected)
	{
		nfirst = rec.nfields;
		first = palloc(sizeof(char *) * nfirst);
		first_lens = palloc(sizeof(int) * nfirst);
		for (int k = 0; k < nfirst; k++)
		{
			first[k] = pnstrdup(KG_CSV_FIELD(&rec, k), rec.lens[k]);
			first_lens[k] = rec.lens[k];
		}
	}
	else
		sample->ragged++;
	cols = palloc0(sizeof(KgType *) * expected);
	while (sample->records < max_rows && kg_csv_next(buf, len, &pos, sample->delimiter, &rec))
	{
		CHECK_FOR_INTERRUPTS();
		if (rec.nfields != expected)
		{
			sample->ragged++;
			continue;
		}
		for (int k = 0; k < expected; k++)
			cols[k] = kg_type_merge(cols[k], kg_type_new(kg_classify_scalar(KG_CSV_FIELD(&rec, k), rec.lens[k], false)));
		sample->records++;
	}
	if (first != NULL)
	{
		if (strcmp(header_mode, "PRESENT") == 0)
			header = true;
		else if (strcmp(header_mode, "UNKNOWN") == 0)
		{
			bool		all_text = true,
						some_typed = false;

			for (int k = 0; k < expected; k++)
			{
				if (kg_classify_scalar(first[k], first_lens[k], false) != KGT_STRING)
					all_text = false;
				if (cols[k] && cols[k]->kind != KGT_STRING && cols[k]->kind != KGT_UNKNOWN)
					some_typed = true;
			}
			header = all_text && some_typed;
		}
		if (!header)
		{
			for (int k = 0; k < expected; k++)
				cols[k] = kg_type_merge(cols[k], kg_type_new(kg_classify_scalar(first[k], first_lens[k], false)));
			sample->records++;
		}
	}
	sample->header = header;
	sample->record = kg_type_new(KGT_STRUCT);
	for (int k = 0; k < expected; k++)
	{
		char	   *name = header ? kg_column_name(first[k], first_lens[k]) : psprintf("col%d", k);
		char	   *unique = name;

		/* duplicate names get _2, _3, ... */
		for (int n = 2;; n++)
		{
			bool		taken = false;

			for (int j = 0; j < sample->record->nfields; j++)
				taken |= strcmp(sample->record->names[j], unique) == 0;
			if (!taken)
				break;
			unique = psprintf("%.250s_%d", name, n);
		}
		kg_type_add_field(sample->record, unique, cols[k] ? cols[k] : kg_type_new(KGT_UNKNOWN));
	}
}

/* ------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------ */

static bool
kg_ends_with(const char *s, const char *suffix)
{
	size_t		a = strlen(s),
				b = strlen(suffix);

	return a >= b && pg_strcasecmp(s + a - b, suffix) == 0;
}

/*
 * Keep only the valid UTF-8 lines of buf (counting the others); returns
 * the cleaned copy, its length in *outlen.
 */
static char *
kg_clean_lines(KgSample *sample, const char *buf, int len, int *outlen)
{
	char	   *out = palloc(len + 1);
	int			n = 0,
				start = 0;

	while (start < len)
	{
		const char *nl = memchr(buf + start, '\n', len - start);
		int			end = nl ? (int) (nl - buf) : len;
		int			l = end - start;

		if (pg_encoding_verifymbstr(PG_UTF8, buf + start, l) == l)
		{
			memcpy(out + n, buf + start, l);
			n += l;
			out[n++] = '\n';
		}
		else
			sample->bad_utf8++;
		start = end + 1;
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

/* Classify and infer a cleaned sample. */
static void
kg_infer_buffer(KgSample *sample, const char *name, const char *buf, int len, int max_rows,
				const char *header_mode)
{
	char		base[MAXPGPATH];
	char		forced = 0;
	int			i = 0;

	strlcpy(base, name, sizeof(base));
	if (kg_ends_with(base, ".gz"))
		base[strlen(base) - 3] = '\0';
	else if (kg_ends_with(base, ".gzip"))
		base[strlen(base) - 5] = '\0';
	if (kg_ends_with(base, ".json") || kg_ends_with(base, ".jsonl") || kg_ends_with(base, ".ndjson"))
		sample->classification = "json";
	else if (kg_ends_with(base, ".csv") || kg_ends_with(base, ".tsv") || kg_ends_with(base, ".psv"))
	{
		sample->classification = "csv";
		forced = kg_ends_with(base, ".tsv") ? '\t' : kg_ends_with(base, ".psv") ? '|' : 0;
	}
	else
	{
		while (i < len && isspace((unsigned char) buf[i]))
			i++;
		if (i == len)
			return;				/* empty: unknown */
		sample->classification = (buf[i] == '{' || buf[i] == '[') ? "json" : "csv";
	}
	if (strcmp(sample->classification, "json") == 0)
	{
		int			start = 0;

		while (start < len && sample->records < max_rows)
		{
			const char *nl = memchr(buf + start, '\n', len - start);
			int			end = nl ? (int) (nl - buf) : len;
			int			s = start,
						e = end;

			while (s < e && isspace((unsigned char) buf[s]))
				s++;
			while (e > s && isspace((unsigned char) buf[e - 1]))
				e--;
			if (e > s)
				kg_json_record(sample, buf + s, e - s);
			start = end + 1;
			CHECK_FOR_INTERRUPTS();
		}
	}
	else
		kg_csv_sample(sample, buf, len, max_rows, header_mode, forced);
}

/* The sample as jsonb. */
static Datum
kg_sample_jsonb(KgSample *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"classification\": \"%s\", \"compression\": \"%s\"",
					 s->classification, s->gzip ? "gzip" : "none");
	if (strcmp(s->classification, "csv") == 0)
	{
		char		d[2] = {s->delimiter, '\0'};

		appendStringInfoString(&buf, ", \"delimiter\": ");
		escape_json(&buf, d);
		appendStringInfo(&buf, ", \"header\": %s", s->header ? "true" : "false");
	}
	appendStringInfoString(&buf, ", \"columns\": [");
	if (s->record && s->record->kind == KGT_STRUCT)
	{
		for (int i = 0; i < s->record->nfields; i++)
			appendStringInfo(&buf, "%s{\"name\": \"%s\", \"type\": \"%s\"}", i ? ", " : "",
							 s->record->names[i], kg_type_to_string(s->record->fields[i]));
	}
	appendStringInfo(&buf, "], \"records\": " INT64_FORMAT ", \"bytes_sampled\": " INT64_FORMAT
					 ", \"truncated\": %s, \"bad_utf8\": " INT64_FORMAT ", \"ragged\": " INT64_FORMAT
					 ", \"invalid_json\": " INT64_FORMAT,
					 s->records, s->bytes, s->truncated ? "true" : "false", s->bad_utf8, s->ragged,
					 s->invalid_json);
	if (s->error)
	{
		appendStringInfoString(&buf, ", \"error\": ");
		escape_json(&buf, s->error);
	}
	appendStringInfoChar(&buf, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/*
 * glue._sample_file(path, sample_bytes, sample_rows, csv_header): see the
 * file header.  Errors reading the file are reported in "error", not
 * raised; missing rights and a malformed path are raised.
 */
Datum
kg_glue_sample_file(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			max_bytes = PG_GETARG_INT32(1);
	int			max_rows = PG_GETARG_INT32(2);
	char	   *header_mode = text_to_cstring(PG_GETARG_TEXT_PP(3));
	MemoryContext cxt,
				old;
	KgSample	sample;
	char	   *buf;
	int			len = 0;
	gzFile		gz;
	Datum		result;

	kg_glue_check_read_path(path);
	if (max_bytes < 1 || max_rows < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("InvalidInputException: sample sizes must be positive")));
	memset(&sample, 0, sizeof(sample));
	sample.classification = "unknown";
	cxt = AllocSetContextCreate(CurrentMemoryContext, "kinesis_glue crawl sample", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	buf = palloc((Size) max_bytes + 1);
	gz = gzopen(path, "rb");
	if (gz == NULL)
		sample.error = psprintf("could not open file: %s", errno ? strerror(errno) : "out of memory");
	else
	{
		int			errnum = 0;

		gzbuffer(gz, 128 * 1024);
		while (len <= max_bytes)
		{
			int			n = gzread(gz, buf + len, max_bytes + 1 - len);

			if (n <= 0)
			{
				if (n < 0)
					sample.error = psprintf("could not read file: %s", gzerror(gz, &errnum));
				break;
			}
			len += n;
			if (len == max_bytes + 1)
				break;
		}
		sample.gzip = !gzdirect(gz);
		gzclose(gz);
	}
	if (len > max_bytes)
	{
		char	   *nl;

		/* drop the line the limit cut */
		sample.truncated = true;
		len = max_bytes;
		buf[len] = '\0';
		nl = len > 0 ? memrchr(buf, '\n', len) : NULL;
		len = nl ? (int) (nl - buf) + 1 : 0;
	}
	sample.bytes = len;
	if (sample.error == NULL || len > 0)
	{
		int			clen;
		char	   *clean = kg_clean_lines(&sample, buf, len, &clen);

		kg_infer_buffer(&sample, path, clean, clen, max_rows, header_mode);
	}
	MemoryContextSwitchTo(old);
	result = kg_sample_jsonb(&sample);
	MemoryContextDelete(cxt);
	PG_RETURN_DATUM(result);
}

/*
 * glue._infer_records(records bytea[], sample_rows int) -> jsonb: the
 * schema of JSON records (a stream's), as _sample_file reports it.
 */
Datum
kg_glue_infer_records(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	int			max_rows = PG_GETARG_INT32(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	KgSample	sample;

	memset(&sample, 0, sizeof(sample));
	deconstruct_array(arr, BYTEAOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n && sample.records < max_rows; i++)
	{
		bytea	   *b;
		const char *s;
		int			l;

		if (nulls[i])
			continue;
		b = DatumGetByteaPP(elems[i]);
		s = VARDATA_ANY(b);
		l = VARSIZE_ANY_EXHDR(b);
		sample.bytes += l;
		if (pg_encoding_verifymbstr(PG_UTF8, s, l) != l)
		{
			sample.bad_utf8++;
			continue;
		}
		while (l > 0 && isspace((unsigned char) s[0]))
			s++, l--;
		while (l > 0 && isspace((unsigned char) s[l - 1]))
			l--;
		kg_json_record(&sample, s, l);
	}
	sample.classification = sample.records > 0 ? "json" : "unknown";
	PG_RETURN_DATUM(kg_sample_jsonb(&sample));
}
