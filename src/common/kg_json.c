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
 * Is the nesting of s (arrays and objects, outside strings) at most
 * KG_JSON_MAX_DEPTH deep?  Iterative; the syntax is checked afterwards.
 */
static bool
kg_json_depth_ok(const char *s, int len)
{
	int			depth = 0;
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
		else if (c == '[' || c == '{')
		{
			if (++depth > KG_JSON_MAX_DEPTH)
				return false;
		}
		else if (c == ']' || c == '}')
			depth--;
	}
	return true;
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

	if (!kg_json_depth_ok(s, len))
		return false;
	sem.semstate = &check;
	sem.scalar = kg_json_check_scalar;
	lex = makeJsonLexContextCstringLen((char *) s, len, GetDatabaseEncoding(), true);
	return pg_parse_json(lex, &sem) == JSON_SUCCESS && check.ok;
}
