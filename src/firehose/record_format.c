/*-------------------------------------------------------------------------
 *
 * record_format.c
 *		How a Firehose record becomes one line of a delivered object: JSON
 *		lines, csv or text (COPY's formats, so that COPY FROM and file_fdw
 *		read the objects back), optionally picking columns out of a JSON
 *		object record.  Also the SQL-callable checks the delivery code uses
 *		to route a record that cannot be written to the error output before
 *		the object is written:
 *
 *		firehose._record_problem(format, columns, data) -> text or NULL
 *		firehose._json_or_null(data) -> jsonb or NULL
 *		firehose._json_object(data) -> jsonb, ERROR unless a JSON object
 *
 * A record never spans lines: JSON lines replace the raw line breaks that
 * JSON allows only as whitespace; csv quotes and text escapes them.
 *
 * Locking: none; pure functions of their arguments.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/jsonfuncs.h"
#include "utils/numeric.h"

#include "common/kg_json.h"
#include "firehose/firehose.h"

PG_FUNCTION_INFO_V1(kg_firehose_record_problem);
PG_FUNCTION_INFO_V1(kg_firehose_json_or_null);
PG_FUNCTION_INFO_V1(kg_firehose_json_object);

/* Parse a file format name; ERROR on anything else. */
KgFileFormat
kg_file_format_from_name(const char *name)
{
	if (strcmp(name, "jsonlines") == 0)
		return KG_FORMAT_JSONLINES;
	if (strcmp(name, "csv") == 0)
		return KG_FORMAT_CSV;
	if (strcmp(name, "text") == 0)
		return KG_FORMAT_TEXT;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("InvalidArgumentException: file format \"%s\" is not one of jsonlines, csv, text", name)));
	return KG_FORMAT_JSONLINES;	/* keep the compiler quiet */
}

/*
 * The column names of a text[] (NULL array: none).  The result is palloc'd
 * in the current memory context; *ncolumns gets the count.
 */
char	  **
kg_column_names(ArrayType *columns, int *ncolumns)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **names;

	*ncolumns = 0;
	if (columns == NULL)
		return NULL;
	deconstruct_array(columns, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, ncolumns);
	names = palloc(sizeof(char *) * Max(*ncolumns, 1));
	for (int i = 0; i < *ncolumns; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("InvalidArgumentException: file columns must not be null")));
		names[i] = TextDatumGetCString(elems[i]);
	}
	return names;
}

/*
 * Why data cannot be written in the format (a static message), or NULL
 * when it can.  Every format needs text valid in the database encoding;
 * JSON lines and column extraction need valid JSON, columns a JSON object.
 */
static const char *
kg_problem(KgFileFormat format, bool has_columns, const char *data, int len)
{
	if (memchr(data, '\0', len) != NULL ||
		!pg_verify_mbstr(GetDatabaseEncoding(), data, len, true))
		return "the record is not valid text in the database encoding";
	if (format != KG_FORMAT_JSONLINES && !has_columns)
		return NULL;
	if (!kg_json_is_valid(data, len))
		return "the record is not valid JSON";
	if (has_columns)
	{
		/* the first token decides whether it is an object */
		for (int i = 0; i < len; i++)
		{
			if (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')
				continue;
			if (data[i] != '{')
				return "the record is not a JSON object";
			break;
		}
	}
	return NULL;
}

/* SQL: firehose._record_problem(file_format text, columns text[], data bytea) */
Datum
kg_firehose_record_problem(PG_FUNCTION_ARGS)
{
	KgFileFormat format = kg_file_format_from_name(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	bool		has_columns = !PG_ARGISNULL(1) && ArrayGetNItems(ARR_NDIM(PG_GETARG_ARRAYTYPE_P(1)),
																 ARR_DIMS(PG_GETARG_ARRAYTYPE_P(1))) > 0;
	bytea	   *data = PG_GETARG_BYTEA_PP(2);
	const char *problem = kg_problem(format, has_columns, VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data));

	if (problem == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(problem));
}

/* SQL: firehose._json_or_null(data bytea): the record as jsonb, or NULL if it is not JSON. */
Datum
kg_firehose_json_or_null(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	int			len = VARSIZE_ANY_EXHDR(data);
	char	   *s;

	if (kg_problem(KG_FORMAT_JSONLINES, false, VARDATA_ANY(data), len) != NULL)
		PG_RETURN_NULL();
	s = pnstrdup(VARDATA_ANY(data), len);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
}

/*
 * SQL: firehose._json_object(data bytea): the record as a jsonb object, for
 * the columns format of table destinations; ERROR (a data exception, so the
 * row goes to the error output) when it is not one.
 */
Datum
kg_firehose_json_object(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	int			len = VARSIZE_ANY_EXHDR(data);
	const char *s = VARDATA_ANY(data);
	Jsonb	   *jb;

	/* parsed once: jsonb_in reports invalid JSON itself */
	if (memchr(s, '\0', len) != NULL || !pg_verify_mbstr(GetDatabaseEncoding(), s, len, true))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("the record is not valid text in the database encoding")));
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(pnstrdup(s, len))));
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("the record is not a JSON object")));
	PG_RETURN_JSONB_P(jb);
}

/* Append s as one csv field: quoted when it holds a delimiter, quote or line break. */
static void
kg_append_csv_field(StringInfo out, const char *s, int len, bool force_quote)
{
	bool		quote = force_quote || len == 0;

	for (int i = 0; i < len && !quote; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
			quote = true;
	/* a lone \. would end COPY's input */
	if (len == 2 && s[0] == '\\' && s[1] == '.')
		quote = true;
	if (!quote)
	{
		appendBinaryStringInfo(out, s, len);
		return;
	}
	appendStringInfoChar(out, '"');
	for (int i = 0; i < len; i++)
	{
		if (s[i] == '"')
			appendStringInfoChar(out, '"');
		appendStringInfoChar(out, s[i]);
	}
	appendStringInfoChar(out, '"');
}

/* Append s as one field of COPY's text format: backslash escapes. */
static void
kg_append_text_field(StringInfo out, const char *s, int len)
{
	for (int i = 0; i < len; i++)
	{
		switch (s[i])
		{
			case '\\':
				appendStringInfoString(out, "\\\\");
				break;
			case '\n':
				appendStringInfoString(out, "\\n");
				break;
			case '\r':
				appendStringInfoString(out, "\\r");
				break;
			case '\t':
				appendStringInfoString(out, "\\t");
				break;
			default:
				appendStringInfoChar(out, s[i]);
		}
	}
}

/* Append one field in the format; NULL s is SQL NULL. */
static void
kg_append_field(StringInfo out, KgFileFormat format, const char *s, int len)
{
	if (format == KG_FORMAT_CSV)
	{
		if (s != NULL)
			kg_append_csv_field(out, s, len, false);
	}
	else if (s == NULL)
		appendStringInfoString(out, "\\N");
	else
		kg_append_text_field(out, s, len);
}

/* Append the header line of a csv or text object with columns. */
void
kg_append_header(StringInfo out, KgFileFormat format, char **columns, int ncolumns)
{
	for (int i = 0; i < ncolumns; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, format == KG_FORMAT_CSV ? ',' : '\t');
		kg_append_field(out, format, columns[i], strlen(columns[i]));
	}
	appendStringInfoChar(out, '\n');
}

/*
 * Append the record as one line (with its newline) to out.  The record
 * must pass kg_problem (the delivery code routes the others to the error
 * output first); ERROR otherwise.
 */
void
kg_append_record_line(StringInfo out, KgFileFormat format, char **columns, int ncolumns,
					  const char *data, int len)
{
	const char *problem = kg_problem(format, ncolumns > 0, data, len);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("InvalidArgumentException: %s", problem)));

	if (format == KG_FORMAT_JSONLINES)
	{
		/* a raw line break can only be whitespace in valid JSON */
		for (int i = 0; i < len; i++)
			appendStringInfoChar(out, (data[i] == '\n' || data[i] == '\r') ? ' ' : data[i]);
	}
	else if (ncolumns == 0)
		kg_append_field(out, format, data, len);
	else
	{
		Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
															CStringGetDatum(pnstrdup(data, len))));

		for (int i = 0; i < ncolumns; i++)
		{
			JsonbValue	key;
			JsonbValue *v;

			if (i > 0)
				appendStringInfoChar(out, format == KG_FORMAT_CSV ? ',' : '\t');
			key.type = jbvString;
			key.val.string.val = columns[i];
			key.val.string.len = strlen(columns[i]);
			v = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &key);
			if (v == NULL || v->type == jbvNull)
				kg_append_field(out, format, NULL, 0);
			else if (v->type == jbvString)
			{
				if (format == KG_FORMAT_CSV)
					kg_append_csv_field(out, v->val.string.val, v->val.string.len, true);
				else
					kg_append_field(out, format, v->val.string.val, v->val.string.len);
			}
			else
			{
				char	   *s;

				if (v->type == jbvNumeric)
					s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
				else if (v->type == jbvBool)
					s = v->val.boolean ? "true" : "false";
				else
					s = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
				kg_append_field(out, format, s, strlen(s));
			}
		}
	}
	appendStringInfoChar(out, '\n');
}
