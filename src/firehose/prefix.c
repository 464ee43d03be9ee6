/*-------------------------------------------------------------------------
 *
 * prefix.c
 *		Object prefixes of file destinations, written like Firehose's S3
 *		prefixes:
 *
 *		  !{timestamp:yyyy/MM/dd}             the approximate arrival time (UTC)
 *		                                      of the oldest record of the object
 *		                                      (one per object, chosen by the
 *		                                      caller), as a Java DateTimeFormatter
 *		                                      pattern: yyyy yy MM dd DDD HH mm
 *		                                      ss SSS, 'quoted text' literal
 *		  !{partitionKeyFromQuery:name}       the value of a partition key,
 *		                                      from its jsonpath in the record
 *		  !{firehose:random-string}           11 random characters
 *
 *		A prefix without a timestamp expression gets yyyy/MM/dd/HH/ appended,
 *		as in Firehose.  The evaluated prefix is a relative path under the
 *		destination directory: it never starts with '/', never has a "." or
 *		".." component, and partition key values are percent-encoded so that
 *		a record cannot choose where its object goes ('/', '%', and anything
 *		but letters, digits and "-_.=" are encoded; a value of dots only too).
 *
 *		firehose._check_prefix(prefix, partition_keys jsonb) -> void
 *		firehose._evaluate_prefix(prefix, arrival timestamptz, values jsonb) -> text or NULL
 *
 * Locking: none; functions of their arguments (and the random source).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "firehose/firehose.h"

PG_FUNCTION_INFO_V1(kg_firehose_check_prefix);
PG_FUNCTION_INFO_V1(kg_firehose_evaluate_prefix);

#define KG_PREFIX_MAX_LENGTH 512
#define KG_RANDOM_STRING_LENGTH 11

/* What an evaluation needs; NULL fields mean "only check". */
typedef struct KgPrefixInput
{
	Jsonb	   *keys;			/* partition keys (check) or values (evaluate) */
	bool		evaluate;
	struct pg_tm tm;			/* the oldest arrival, UTC */
	int			millis;
} KgPrefixInput;

/* ERROR for an invalid prefix template. */
static void
kg_prefix_error(const char *prefix, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("InvalidArgumentException: invalid prefix \"%s\": %s", prefix, problem),
			 errhint("Expressions are !{timestamp:pattern}, !{partitionKeyFromQuery:name} and !{firehose:random-string}.")));
}

/* The string value of key in a jsonb object, or NULL. */
static JsonbValue *
kg_jsonb_key(Jsonb *obj, const char *key, int keylen)
{
	JsonbValue	k;

	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = keylen;
	return findJsonbValueFromContainer(&obj->root, JB_FOBJECT, &k);
}

/*
 * Append a Java DateTimeFormatter pattern (the subset above) for in->tm.
 * Returns NULL, or what is wrong with the pattern.
 */
static const char *
kg_append_timestamp(StringInfo out, const char *pat, int len, KgPrefixInput *in)
{
	int			i = 0;

	while (i < len)
	{
		char		c = pat[i];
		int			run = 1;

		if (c == '\'')
		{
			const char *end = memchr(pat + i + 1, '\'', len - i - 1);

			if (end == NULL)
				return "a quoted text in a timestamp pattern is not closed";
			appendBinaryStringInfo(out, pat + i + 1, end - (pat + i + 1));
			i = end - pat + 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
		{
			appendStringInfoChar(out, c);
			i++;
			continue;
		}
		while (i + run < len && pat[i + run] == c)
			run++;
		if (c == 'y' && run == 4)
			appendStringInfo(out, "%04d", in->tm.tm_year);
		else if (c == 'y' && run == 2)
			appendStringInfo(out, "%02d", in->tm.tm_year % 100);
		else if (c == 'M' && run == 2)
			appendStringInfo(out, "%02d", in->tm.tm_mon);
		else if (c == 'd' && run == 2)
			appendStringInfo(out, "%02d", in->tm.tm_mday);
		else if (c == 'D' && run == 3)
			appendStringInfo(out, "%03d", in->tm.tm_yday);
		else if (c == 'H' && run == 2)
			appendStringInfo(out, "%02d", in->tm.tm_hour);
		else if (c == 'm' && run == 2)
			appendStringInfo(out, "%02d", in->tm.tm_min);
		else if (c == 's' && run == 2)
			appendStringInfo(out, "%02d", in->tm.tm_sec);
		else if (c == 'S' && run == 3)
			appendStringInfo(out, "%03d", in->millis);
		else
			return psprintf("the timestamp pattern letters \"%.*s\" are not supported (use yyyy, yy, MM, dd, DDD, HH, mm, ss, SSS)",
							run, pat + i);
		i += run;
	}
	return NULL;
}

/* Append a partition key value, percent-encoded so it is one safe path component. */
static void
kg_append_key_value(StringInfo out, const char *v, int len)
{
	bool		dots_only = true;

	for (int i = 0; i < len; i++)
		if (v[i] != '.')
			dots_only = false;
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) v[i];

		if (((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '-' || c == '_' || c == '=' || c == '.') && !(dots_only && c == '.'))
			appendStringInfoChar(out, c);
		else
			appendStringInfo(out, "%%%02X", c);
	}
}

/*
 * Check (in->evaluate false) or evaluate the prefix into out.  Checking
 * needs in->keys = the partition keys object ({name: jsonpath}); evaluating
 * needs in->keys = {name: value} and in->tm; a value of key
 * "firehose:random-string" in it stands for the random string (one per
 * batch).  Returns NULL, or what is wrong.
 */
static const char *
kg_prefix_walk(const char *prefix, StringInfo out, KgPrefixInput *in)
{
	const char *p = prefix;
	bool		has_timestamp = false;
	const char *problem;

	while (*p)
	{
		const char *close;
		const char *colon;
		int			nslen;
		int			arglen;

		if (p[0] != '!' || p[1] != '{')
		{
			if (p[0] == '{' || p[0] == '}')
				return "braces may only appear in !{...} expressions";
			appendStringInfoChar(out, *p++);
			continue;
		}
		close = strchr(p + 2, '}');
		colon = strchr(p + 2, ':');
		if (close == NULL || colon == NULL || colon > close)
			return "an expression must have the form !{namespace:argument}";
		nslen = colon - (p + 2);
		arglen = close - colon - 1;
		if (nslen == 9 && strncmp(p + 2, "timestamp", 9) == 0)
		{
			has_timestamp = true;
			if ((problem = kg_append_timestamp(out, colon + 1, arglen, in)) != NULL)
				return problem;
		}
		else if (nslen == 21 && strncmp(p + 2, "partitionKeyFromQuery", 21) == 0)
		{
			JsonbValue *v = kg_jsonb_key(in->keys, colon + 1, arglen);

			if (v == NULL || v->type != jbvString)
				return psprintf(in->evaluate ? "the partition key \"%.*s\" has no value" :
								"the partition key \"%.*s\" is not among partition_keys",
								arglen, colon + 1);
			if (!in->evaluate)
				appendStringInfoString(out, "key");
			else if (v->val.string.len == 0)
				return psprintf("the partition key \"%.*s\" is empty", arglen, colon + 1);
			else
				kg_append_key_value(out, v->val.string.val, v->val.string.len);
		}
		else if (nslen == 8 && strncmp(p + 2, "firehose", 8) == 0 &&
				 arglen == 13 && strncmp(colon + 1, "random-string", 13) == 0)
		{
			static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
			JsonbValue *v = kg_jsonb_key(in->keys, "firehose:random-string", 22);
			uint8		bytes[KG_RANDOM_STRING_LENGTH];

			if (v != NULL && v->type == jbvString && in->evaluate)
				kg_append_key_value(out, v->val.string.val, v->val.string.len);
			else
			{
				if (!pg_strong_random(bytes, sizeof(bytes)))
					ereport(ERROR, (errmsg("could not generate random bytes")));
				for (int i = 0; i < KG_RANDOM_STRING_LENGTH; i++)
					appendStringInfoChar(out, alphabet[bytes[i] % 36]);
			}
		}
		else
			return psprintf("unknown expression \"%.*s\"", (int) (close - p + 1), p);
		p = close + 1;
	}
	if (!has_timestamp)
	{
		/* Firehose's default: the hour of the object's oldest arrival */
		if (out->len > 0 && out->data[out->len - 1] != '/')
			appendStringInfoChar(out, '/');
		(void) kg_append_timestamp(out, "yyyy/MM/dd/HH/", 14, in);
	}

	/* a safe relative path: no leading '/', no "." or ".." or empty component */
	if (out->data[0] == '/')
		return "a prefix is relative to the destination directory; it cannot start with \"/\"";
	if (out->len > KG_PREFIX_MAX_LENGTH)
		return "an evaluated prefix has at most 512 characters";
	for (const char *c = out->data; *c;)
	{
		const char *slash = strchr(c, '/');
		int			n = slash ? slash - c : strlen(c);

		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return "a prefix cannot have \".\" or \"..\" components";
		if (slash && n == 0)
			return "a prefix cannot have empty components (\"//\")";
		c += n + (slash ? 1 : 0);
	}
	return NULL;
}

/* SQL: firehose._check_prefix(prefix text, partition_keys jsonb): ERROR unless valid */
Datum
kg_firehose_check_prefix(PG_FUNCTION_ARGS)
{
	char	   *prefix = text_to_cstring(PG_GETARG_TEXT_PP(0));
	KgPrefixInput in = {0};
	StringInfoData out;
	const char *problem;

	in.keys = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	in.tm.tm_year = 2000;
	in.tm.tm_mon = in.tm.tm_mday = 1;
	initStringInfo(&out);
	if ((problem = kg_prefix_walk(prefix, &out, &in)) != NULL)
		kg_prefix_error(prefix, problem);
	PG_RETURN_VOID();
}

/*
 * SQL: firehose._evaluate_prefix(prefix text, arrival timestamptz, key_values jsonb)
 * The prefix for a record that arrived then and has these partition key
 * values, or NULL when they give none (a key missing or empty, the result
 * too long).
 */
Datum
kg_firehose_evaluate_prefix(PG_FUNCTION_ARGS)
{
	char	   *prefix = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz arrival = PG_GETARG_TIMESTAMPTZ(1);
	KgPrefixInput in = {0};
	StringInfoData out;
	fsec_t		fsec;

	in.keys = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	in.evaluate = true;
	if (timestamp2tm(arrival, NULL, &in.tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	in.tm.tm_yday = date2j(in.tm.tm_year, in.tm.tm_mon, in.tm.tm_mday) -
		date2j(in.tm.tm_year, 1, 1) + 1;
	in.millis = fsec / 1000;
	initStringInfo(&out);
	if (kg_prefix_walk(prefix, &out, &in) != NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(out.data));
}
