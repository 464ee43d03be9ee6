/*-------------------------------------------------------------------------
 *
 * kg_json.c
 *		Checking, without raising an error, that a text is JSON that jsonb
 *		accepts: the readers of records and files skip (or route to an error
 *		output) what is not, instead of failing a whole batch or query.
 *		pg_parse_json alone is not enough: jsonb_in also refuses \u0000 and
 *		numbers that numeric cannot hold, and both recurse once per level
 *		of nesting, so a deeply nested line would raise "stack depth limit
 *		exceeded": lines nested deeper than KG_JSON_MAX_DEPTH are refused
 *		by a scan that does not recurse.
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "common/kg_json.h"

/* numeric's exponent range is far smaller; anything near this fails in numeric_in */
#define KG_JSON_MAX_EXPONENT 100000
#define KG_JSON_MAX_NUMBER_LENGTH 100000
/* far below what the default max_stack_depth allows the recursive parsers */
#define KG_JSON_MAX_DEPTH 512

typedef struct KgJsonCheck
{
	bool		ok;
} KgJsonCheck;

/* Scalar callback: flag numbers that numeric_in would refuse. */
static void
kg_json_check_scalar(void *state, char *token, JsonTokenType tokentype)
{
	KgJsonCheck *check = (KgJsonCheck *) state;
	const char *e;

	if (tokentype != JSON_TOKEN_NUMBER)
		return;
	if (strlen(token) > KG_JSON_MAX_NUMBER_LENGTH)
	{
		check->ok = false;
		return;
	}
	e = strpbrk(token, "eE");
	if (e != NULL)
	{
		long		exponent = strtol(e + 1, NULL, 10);

		if (exponent > KG_JSON_MAX_EXPONENT || exponent < -KG_JSON_MAX_EXPONENT)
			check->ok = false;
	}
}

/*
 * Nesting depth of a JSON text (brackets outside strings), found without
 * recursion, so that deeply nested input can be refused before a recursive
 * parser sees it.  The syntax is not checked.
 */
int
kg_json_depth(const char *s, int len)
{
	int			depth = 0,
				max = 0;
	bool		in_string = false;

	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
			max = Max(max, ++depth);
		else if (c == '}' || c == ']')
			depth--;
	}
	return max;
}

/*
 * Is s (len bytes, valid in the database encoding) JSON that jsonb_in
 * accepts?  Never raises an error for bad input.
 */
bool
kg_json_is_valid(const char *s, int len)
{
	JsonLexContext *lex;
	KgJsonCheck check = {true};
	JsonSemAction sem = {0};

	if (kg_json_depth(s, len) > KG_JSON_MAX_DEPTH)
		return false;
	sem.semstate = &check;
	sem.scalar = kg_json_check_scalar;
	lex = makeJsonLexContextCstringLen((char *) s, len, GetDatabaseEncoding(), true);
	return pg_parse_json(lex, &sem) == JSON_SUCCESS && check.ok;
}
