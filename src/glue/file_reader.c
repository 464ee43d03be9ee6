/*-------------------------------------------------------------------------
 *
 * file_reader.c
 *		The reader behind queryable catalog tables (relations.sql): the rows
 *		of every data file under a catalog table's location, CSV or JSON
 *		lines, plain or gzip-compressed, with partition values taken from
 *		the folders.
 *
 *		glue.read_files(location, file_format, columns text[],
 *		    partition_keys text[], header boolean, delimiter text)
 *		    RETURNS SETOF record   -- with a column definition list:
 *		                              the columns, then the partition keys
 *
 * Files: every regular file under location, recursively, in path order,
 * except names starting with "." or "_" (temporary and marker files, as
 * Hive and Spark skip them; Firehose's temporary objects are among them).
 * Symbolic links are not followed.
 * A file whose first bytes are gzip's magic number is decompressed.
 *
 * Rows: CSV fields by position (RFC 4180 quoting, quoted line breaks; with
 * header, the first line of each file is skipped); JSON lines by key (an
 * exact match, else a case-insensitive one), strings as their text, other
 * values as JSON.  A partition key's value comes from a folder named
 * "key=value" (percent-decoded), else from the folder at its position
 * below location.  Values are converted with the input functions of the
 * column types; a value that does not convert is an error that names the
 * file, line and column.  Lines that are not valid text or not a JSON
 * object are skipped and counted in one NOTICE.
 *
 * Rights: the caller must hold pg_read_server_files (or be superuser), as
 * for file_fdw and COPY FROM a file.
 *
 * Locking: none; files are read as they are when the scan reaches them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <sys/stat.h>
#include <zlib.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "common/kg_json.h"

PG_FUNCTION_INFO_V1(kg_glue_read_files);

/* The scan's state, also shown by the error context callback. */
typedef struct KgScan
{
	const char *location;
	bool		json;
	bool		header;
	char		delimiter;
	char	  **columns;
	int			ncolumns;
	char	  **keys;
	int			nkeys;
	const char *path;			/* current file */
	int64		line;			/* current line (1-based) */
	int64		skipped;		/* malformed lines */
	AttInMetadata *attinmeta;
	Tuplestorestate *store;
} KgScan;

/* Error context: which file and line a conversion error comes from. */
static void
kg_scan_context(void *arg)
{
	KgScan	   *scan = (KgScan *) arg;

	if (scan->path != NULL)
		errcontext("file \"%s\", line " INT64_FORMAT, scan->path, scan->line);
}

static int
kg_compare_paths(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Append the data files under dir (recursively) to *files. */
static void
kg_list_files(const char *dir, List **files)
{
	DIR		   *d = AllocateDir(dir);
	struct dirent *de;

	if (d == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open directory \"%s\": %m", dir)));
	while ((de = ReadDir(d, dir)) != NULL)
	{
		char	   *path;
		struct stat st;

		CHECK_FOR_INTERRUPTS();
		if (de->d_name[0] == '.' || de->d_name[0] == '_')
			continue;
		path = psprintf("%s/%s", dir, de->d_name);
		/* lstat: symbolic links are not followed (no cycles, no escape) */
		if (lstat(path, &st) != 0)
			continue;			/* gone meanwhile */
		if (S_ISDIR(st.st_mode))
			kg_list_files(path, files);
		else if (S_ISREG(st.st_mode))
			*files = lappend(*files, path);
	}
	FreeDir(d);
}

static char *kg_json_value_text(JsonbValue *v, bool array_column);

/* Decode %XX escapes (as Firehose writes partition values) in place. */
static void
kg_percent_decode(char *s)
{
	char	   *out = s;

	for (char *in = s; *in; in++)
	{
		if (in[0] == '%' && isxdigit((unsigned char) in[1]) && isxdigit((unsigned char) in[2]))
		{
			char		hex[3] = {in[1], in[2], '\0'};

			*out++ = (char) strtol(hex, NULL, 16);
			in += 2;
		}
		else
			*out++ = *in;
	}
	*out = '\0';
}

/* The partition values of a file: from "key=value" folders, else by position. */
static void
kg_partition_values(KgScan *scan, const char *path, char **values)
{
	char	   *rel = pstrdup(path + strlen(scan->location));
	char	   *slash = strrchr(rel, '/');
	List	   *parts = NIL;
	char	   *tok;
	char	   *save;

	if (slash != NULL)
		*slash = '\0';			/* the file name is no partition */
	for (tok = strtok_r(rel, "/", &save); tok != NULL; tok = strtok_r(NULL, "/", &save))
		parts = lappend(parts, tok);
	for (int k = 0; k < scan->nkeys; k++)
	{
		char	   *value = NULL;
		ListCell   *lc;
		size_t		klen = strlen(scan->keys[k]);

		foreach(lc, parts)
		{
			char	   *p = lfirst(lc);

			if (pg_strncasecmp(p, scan->keys[k], klen) == 0 && p[klen] == '=')
			{
				value = pstrdup(p + klen + 1);
				break;
			}
		}
		if (value == NULL && k < list_length(parts))
		{
			char	   *p = list_nth(parts, k);
			char	   *eq = strchr(p, '=');

			value = pstrdup(eq ? eq + 1 : p);
		}
		if (value != NULL)
			kg_percent_decode(value);
		values[scan->ncolumns + k] = value;
	}
}

/* A JSON array as an array literal ({"a","b",NULL}) for an array column. */
static char *
kg_json_array_literal(JsonbValue *v)
{
	JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
	JsonbValue	e;
	JsonbIteratorToken tok;
	StringInfoData out;
	bool		first = true;
	int			depth = 0;

	initStringInfo(&out);
	appendStringInfoChar(&out, '{');
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		char	   *text;

		if (tok == WJB_BEGIN_ARRAY)
			depth++;
		if (tok != WJB_ELEM || depth != 1)
			continue;
		if (!first)
			appendStringInfoChar(&out, ',');
		first = false;
		if (e.type == jbvNull)
		{
			appendStringInfoString(&out, "NULL");
			continue;
		}
		text = kg_json_value_text(&e, false);
		appendStringInfoChar(&out, '"');
		for (char *c = text; *c; c++)
		{
			if (*c == '"' || *c == '\\')
				appendStringInfoChar(&out, '\\');
			appendStringInfoChar(&out, *c);
		}
		appendStringInfoChar(&out, '"');
	}
	appendStringInfoChar(&out, '}');
	return out.data;
}

/*
 * A JSON value as the text its column's input function takes (NULL: SQL
 * NULL); for an array column a JSON array becomes an array literal.
 */
static char *
kg_json_value_text(JsonbValue *v, bool array_column)
{
	if (array_column && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
		return kg_json_array_literal(v);
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
	}
}

/* Fill values[] from a JSON object line; false when the line is not one. */
static bool
kg_json_line(KgScan *scan, char *line, int len, char **values)
{
	Jsonb	   *jb;

	if (!kg_json_is_valid(line, len))
		return false;
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(pnstrdup(line, len))));
	if (!JB_ROOT_IS_OBJECT(jb))
		return false;
	for (int c = 0; c < scan->ncolumns; c++)
	{
		JsonbValue	key;
		JsonbValue *v;

		key.type = jbvString;
		key.val.string.val = scan->columns[c];
		key.val.string.len = strlen(scan->columns[c]);
		v = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &key);
		if (v == NULL)
		{
			/* Glue folds names to lower case: try the keys case-insensitively */
			JsonbIterator *it = JsonbIteratorInit(&jb->root);
			JsonbValue	k;
			JsonbIteratorToken tok;
			bool		want_value = false;

			while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
			{
				if (tok == WJB_KEY)
					want_value = (k.val.string.len == key.val.string.len &&
								  pg_strncasecmp(k.val.string.val, key.val.string.val, k.val.string.len) == 0);
				else if (tok == WJB_VALUE && want_value)
				{
					v = palloc(sizeof(JsonbValue));
					*v = k;
					break;
				}
			}
		}
		values[c] = v ? kg_json_value_text(v, type_is_array(TupleDescAttr(scan->attinmeta->tupdesc, c)->atttypid)) : NULL;
	}
	return true;
}

/* Split a CSV record into values[] by position (missing fields NULL). */
static void
kg_csv_record(KgScan *scan, const char *rec, int len, char **values)
{
	int			c = 0;
	int			i = 0;
	StringInfoData field;

	initStringInfo(&field);
	for (c = 0; c < scan->ncolumns; c++)
		values[c] = NULL;
	c = 0;
	while (i <= len && c < scan->ncolumns)
	{
		bool		quoted = false;

		resetStringInfo(&field);
		if (i < len && rec[i] == '"')
		{
			quoted = true;
			for (i++; i < len; i++)
			{
				if (rec[i] == '"' && i + 1 < len && rec[i + 1] == '"')
					appendStringInfoChar(&field, rec[i++]);
				else if (rec[i] == '"')
				{
					i++;
					break;
				}
				else
					appendStringInfoChar(&field, rec[i]);
			}
		}
		while (i < len && rec[i] != scan->delimiter)
			appendStringInfoChar(&field, rec[i++]);
		/* an unquoted empty field is NULL, as in COPY's csv format */
		values[c++] = (field.len == 0 && !quoted) ? NULL : pstrdup(field.data);
		i++;					/* past the delimiter (or the end) */
	}
}

/* Read one logical line (CSV: until quotes balance) into buf; false at EOF. */
static bool
kg_read_record(gzFile gz, StringInfo buf, bool csv, KgScan *scan)
{
	char		chunk[65536];
	bool		in_quotes = false;

	resetStringInfo(buf);
	for (;;)
	{
		if (gzgets(gz, chunk, sizeof(chunk)) == NULL)
			return buf->len > 0;
		for (char *p = chunk; *p && csv; p++)
			if (*p == '"')
				in_quotes = !in_quotes;
		appendStringInfoString(buf, chunk);
		if (buf->len > 0 && buf->data[buf->len - 1] == '\n')
		{
			scan->line++;
			if (!csv || !in_quotes)
			{
				buf->data[--buf->len] = '\0';
				if (buf->len > 0 && buf->data[buf->len - 1] == '\r')
					buf->data[--buf->len] = '\0';
				return true;
			}
		}
		CHECK_FOR_INTERRUPTS();
	}
}

/* Scan one file into the tuplestore. */
static void
kg_scan_file(KgScan *scan, const char *path, MemoryContext rowcxt)
{
	gzFile		gz;
	StringInfoData buf;
	int			natts = scan->ncolumns + scan->nkeys;
	char	  **values = palloc0(sizeof(char *) * Max(natts, 1));

	scan->path = path;
	scan->line = 0;
	gz = gzopen(path, "rb");
	if (gz == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for reading: %m", path)));
	initStringInfo(&buf);
	PG_TRY();
	{
		kg_partition_values(scan, path, values);
		if (scan->header && !scan->json)
			(void) kg_read_record(gz, &buf, true, scan);
		while (kg_read_record(gz, &buf, !scan->json, scan))
		{
			MemoryContext old;
			HeapTuple	tuple;

			CHECK_FOR_INTERRUPTS();
			if (buf.len == 0)
				continue;
			old = MemoryContextSwitchTo(rowcxt);
			if (memchr(buf.data, '\0', buf.len) != NULL ||
				!pg_verify_mbstr(GetDatabaseEncoding(), buf.data, buf.len, true) ||
				(scan->json && !kg_json_line(scan, buf.data, buf.len, values)))
				scan->skipped++;
			else
			{
				if (!scan->json)
					kg_csv_record(scan, buf.data, buf.len, values);
				tuple = BuildTupleFromCStrings(scan->attinmeta, values);
				tuplestore_puttuple(scan->store, tuple);
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
		if (!gzeof(gz))
		{
			int			zerr;
			const char *msg = gzerror(gz, &zerr);

			if (zerr != Z_OK && zerr != Z_BUF_ERROR)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("could not read file \"%s\": %s", path, msg)));
		}
	}
	PG_FINALLY();
	{
		gzclose(gz);
	}
	PG_END_TRY();
	scan->path = NULL;
}

/* The strings of a text[] (NULL array: none). */
static char **
kg_text_array(ArrayType *a, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	*n = 0;
	if (a == NULL)
		return NULL;
	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	out = palloc(sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
		out[i] = nulls[i] ? "" : TextDatumGetCString(elems[i]);
	return out;
}

/* SQL: glue.read_files(location, file_format, columns, partition_keys, header, delimiter) */
Datum
kg_glue_read_files(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KgScan		scan = {0};
	char	   *format;
	char	   *location;
	List	   *files = NIL;
	char	  **paths;
	int			nfiles;
	MemoryContext rowcxt;
	ErrorContextCallback errcb;
	struct stat st;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("InvalidInputException: location and file format must be given")));
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("AccessDeniedException: permission denied to read server files"),
				 errdetail("Only roles with privileges of the \"pg_read_server_files\" role may read the files of catalog tables."),
				 errhint("GRANT pg_read_server_files TO the querying role.")));
	location = text_to_cstring(PG_GETARG_TEXT_PP(0));
	format = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!is_absolute_path(location))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("InvalidInputException: location \"%s\" is not an absolute path", location)));
	canonicalize_path(location);
	if (strcmp(format, "json") == 0)
		scan.json = true;
	else if (strcmp(format, "csv") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("InvalidInputException: file format \"%s\" is not one of csv, json", format)));
	scan.location = location;
	scan.columns = kg_text_array(PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2), &scan.ncolumns);
	scan.keys = kg_text_array(PG_ARGISNULL(3) ? NULL : PG_GETARG_ARRAYTYPE_P(3), &scan.nkeys);
	scan.header = !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	scan.delimiter = ',';
	if (!PG_ARGISNULL(5))
	{
		char	   *d = text_to_cstring(PG_GETARG_TEXT_PP(5));

		if (strlen(d) != 1 || d[0] == '"' || d[0] == '\n' || d[0] == '\r')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("InvalidInputException: the delimiter must be one character other than a quote or line break")));
		scan.delimiter = d[0];
	}

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (rsinfo->setDesc->natts != scan.ncolumns + scan.nkeys)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the column definition list has %d columns, not %d (the columns and partition keys)",
						rsinfo->setDesc->natts, scan.ncolumns + scan.nkeys)));
	scan.attinmeta = TupleDescGetAttInMetadata(rsinfo->setDesc);
	scan.store = rsinfo->setResult;

	/* a location that does not exist (yet) is an empty table */
	if (stat(location, &st) == 0 && S_ISDIR(st.st_mode))
		kg_list_files(location, &files);
	else if (stat(location, &st) == 0 && S_ISREG(st.st_mode))
		files = list_make1(location);
	nfiles = list_length(files);
	paths = palloc(sizeof(char *) * Max(nfiles, 1));
	for (int i = 0; i < nfiles; i++)
		paths[i] = list_nth(files, i);
	qsort(paths, nfiles, sizeof(char *), kg_compare_paths);

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "glue file row", ALLOCSET_DEFAULT_SIZES);
	errcb.callback = kg_scan_context;
	errcb.arg = &scan;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	for (int i = 0; i < nfiles; i++)
		kg_scan_file(&scan, paths[i], rowcxt);
	error_context_stack = errcb.previous;
	MemoryContextDelete(rowcxt);

	if (scan.skipped > 0)
		ereport(NOTICE,
				(errmsg("skipped " INT64_FORMAT " malformed line(s) under \"%s\"", scan.skipped, location),
				 errdetail("Lines that are not valid text%s are skipped.",
						   scan.json ? " or not a JSON object" : "")));
	return (Datum) 0;
}
