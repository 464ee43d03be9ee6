/*-------------------------------------------------------------------------
 *
 * kg_json.c
 *		Checking, without raising an error, that a text is JSON that jsonb
 *		accepts: the readers of records and files skip (or route to an error
 *		output) what is not, instead of failing a whole batch or query.
 *		pg_parse_json alone is not enough: jsonb_in also refuses \u0000 and
 *		numbers that numeric cannot hold.
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
 * Is s (len bytes, valid in the database encoding) JSON that jsonb_in
 * accepts?  Never raises an error for bad input.
 */
bool
kg_json_is_valid(const char *s, int len)
{
	JsonLexContext *lex;
	KgJsonCheck check = {true};
	JsonSemAction sem = {0};

	sem.semstate = &check;
	sem.scalar = kg_json_check_scalar;
	lex = makeJsonLexContextCstringLen((char *) s, len, GetDatabaseEncoding(), true);
	return pg_parse_json(lex, &sem) == JSON_SUCCESS && check.ok;
}
