/*-------------------------------------------------------------------------
 *
 * crawl_types.c
 *		The types a crawler infers: a small tree (primitive, array<T>,
 *		struct<name:T,...>), merged with widening, printed as a Glue type
 *		string and parsed back from one; the classification of a single
 *		value; the column name a header or JSON key becomes.
 *
 *		glue._widen_type(a text, b text) -> text
 *
 * Widening: unknown (only NULLs) gives way to anything; bigint and double
 * give double; date and timestamp give timestamp; arrays merge their
 * elements and structs their fields (in order of first appearance); any
 * other mix becomes string.  So a column that held 1, then 1.5, then "x"
 * goes bigint -> double -> string, and never narrows again.
 *
 * Limits: at most KG_TYPE_MAX_FIELDS fields per struct (more are dropped),
 * KG_TYPE_MAX_DEPTH levels of nesting (deeper values are strings), and a
 * printed type longer than KG_TYPE_MAX_LENGTH becomes string.
 *
 * Locking: none; everything is allocated in the caller's memory context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "utils/builtins.h"

#include "glue/crawler.h"

PG_FUNCTION_INFO_V1(kg_glue_widen_type);

static const char *const kg_kind_names[] = {
	"string", "boolean", "bigint", "double", "date", "timestamp", "string"
};

/* A new node of the given kind (palloc'd in the current context). */
KgType *
kg_type_new(KgTypeKind kind)
{
	KgType	   *t = palloc0(sizeof(KgType));

	t->kind = kind;
	return t;
}

/*
 * Add field name of type t to struct st, merging when the name is already
 * there.  Fields beyond KG_TYPE_MAX_FIELDS are dropped.
 */
void
kg_type_add_field(KgType *st, const char *name, KgType *t)
{
	Assert(st->kind == KGT_STRUCT);
	for (int i = 0; i < st->nfields; i++)
	{
		if (strcmp(st->names[i], name) == 0)
		{
			st->fields[i] = kg_type_merge(st->fields[i], t);
			return;
		}
	}
	if (st->nfields >= KG_TYPE_MAX_FIELDS)
		return;
	if (st->nfields == st->maxfields)
	{
		st->maxfields = Max(8, st->maxfields * 2);
		st->names = st->names ? repalloc(st->names, sizeof(char *) * st->maxfields) :
			palloc(sizeof(char *) * st->maxfields);
		st->fields = st->fields ? repalloc(st->fields, sizeof(KgType *) * st->maxfields) :
			palloc(sizeof(KgType *) * st->maxfields);
	}
	st->names[st->nfields] = pstrdup(name);
	st->fields[st->nfields] = t;
	st->nfields++;
}

/*
 * Merge b into a and return the result (a, b or a new node; the inputs may
 * be reused in it).  NULL stands for "nothing seen".
 */
KgType *
kg_type_merge(KgType *a, KgType *b)
{
	if (a == NULL || a->kind == KGT_UNKNOWN)
		return b ? b : a;
	if (b == NULL || b->kind == KGT_UNKNOWN)
		return a;
	if (a->kind == b->kind)
	{
		if (a->kind == KGT_ARRAY)
			a->elem = kg_type_merge(a->elem, b->elem);
		else if (a->kind == KGT_STRUCT)
		{
			for (int i = 0; i < b->nfields; i++)
				kg_type_add_field(a, b->names[i], b->fields[i]);
		}
		return a;
	}
	if ((a->kind == KGT_BIGINT && b->kind == KGT_DOUBLE) ||
		(a->kind == KGT_DOUBLE && b->kind == KGT_BIGINT))
		return kg_type_new(KGT_DOUBLE);
	if ((a->kind == KGT_DATE && b->kind == KGT_TIMESTAMP) ||
		(a->kind == KGT_TIMESTAMP && b->kind == KGT_DATE))
		return kg_type_new(KGT_TIMESTAMP);
	return kg_type_new(KGT_STRING);
}

/* Append the Glue type string of t (unknown prints as string). */
void
kg_type_print(StringInfo buf, const KgType *t)
{
	if (t == NULL)
	{
		appendStringInfoString(buf, "string");
		return;
	}
	switch (t->kind)
	{
		case KGT_ARRAY:
			appendStringInfoString(buf, "array<");
			kg_type_print(buf, t->elem);
			appendStringInfoChar(buf, '>');
			break;
		case KGT_STRUCT:
			if (t->nfields == 0)
			{
				/* Glue cannot express an empty struct */
				appendStringInfoString(buf, "string");
				break;
			}
			appendStringInfoString(buf, "struct<");
			for (int i = 0; i < t->nfields; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				appendStringInfo(buf, "%s:", t->names[i]);
				kg_type_print(buf, t->fields[i]);
			}
			appendStringInfoChar(buf, '>');
			break;
		default:
			appendStringInfoString(buf, kg_kind_names[t->kind]);
			break;
	}
}

/* The Glue type string of t, palloc'd; string when it would be too long. */
char *
kg_type_to_string(const KgType *t)
{
	StringInfoData buf;

	initStringInfo(&buf);
	kg_type_print(&buf, t);
	if (buf.len > KG_TYPE_MAX_LENGTH)
		return pstrdup("string");
	return buf.data;
}

/* Parser state for kg_type_parse. */
typedef struct KgTypeLexer
{
	const char *s;
	int			pos;
} KgTypeLexer;

static void
kg_skip_space(KgTypeLexer *lx)
{
	while (isspace((unsigned char) lx->s[lx->pos]))
		lx->pos++;
}

/* Parse one type at lx; NULL on a syntax error. */
static KgType *
kg_parse_one(KgTypeLexer *lx, int depth)
{
	char		word[32];
	int			n = 0;

	if (depth > KG_TYPE_MAX_DEPTH)
		return NULL;
	kg_skip_space(lx);
	while (isalpha((unsigned char) lx->s[lx->pos]) && n < (int) sizeof(word) - 1)
		word[n++] = tolower((unsigned char) lx->s[lx->pos++]);
	word[n] = '\0';
	kg_skip_space(lx);
	if (strcmp(word, "array") == 0 || strcmp(word, "struct") == 0)
	{
		KgType	   *t = kg_type_new(word[0] == 'a' ? KGT_ARRAY : KGT_STRUCT);

		if (lx->s[lx->pos++] != '<')
			return NULL;
		if (t->kind == KGT_ARRAY)
		{
			if ((t->elem = kg_parse_one(lx, depth + 1)) == NULL)
				return NULL;
		}
		else
		{
			for (;;)
			{
				char		name[256];
				int			k = 0;
				KgType	   *f;

				kg_skip_space(lx);
				while ((isalnum((unsigned char) lx->s[lx->pos]) || lx->s[lx->pos] == '_') && k < 255)
					name[k++] = tolower((unsigned char) lx->s[lx->pos++]);
				name[k] = '\0';
				kg_skip_space(lx);
				if (k == 0 || lx->s[lx->pos++] != ':' || (f = kg_parse_one(lx, depth + 1)) == NULL)
					return NULL;
				kg_type_add_field(t, name, f);
				if (lx->s[lx->pos] != ',')
					break;
				lx->pos++;
			}
		}
		if (lx->s[lx->pos++] != '>')
			return NULL;
		kg_skip_space(lx);
		return t;
	}
	/* primitives, with an optional (n) or (p,s) that is skipped */
	if (lx->s[lx->pos] == '(')
	{
		while (lx->s[lx->pos] && lx->s[lx->pos] != ')')
			lx->pos++;
		if (lx->s[lx->pos] == ')')
			lx->pos++;
		kg_skip_space(lx);
	}
	if (n == 0)
		return NULL;
	if (strcmp(word, "boolean") == 0)
		return kg_type_new(KGT_BOOLEAN);
	if (strcmp(word, "bigint") == 0 || strcmp(word, "int") == 0 || strcmp(word, "integer") == 0 ||
		strcmp(word, "smallint") == 0 || strcmp(word, "tinyint") == 0)
		return kg_type_new(KGT_BIGINT);
	if (strcmp(word, "double") == 0 || strcmp(word, "float") == 0 || strcmp(word, "decimal") == 0)
		return kg_type_new(KGT_DOUBLE);
	if (strcmp(word, "date") == 0)
		return kg_type_new(KGT_DATE);
	if (strcmp(word, "timestamp") == 0)
		return kg_type_new(KGT_TIMESTAMP);
	return kg_type_new(KGT_STRING);
}

/*
 * Parse a Glue type string into a tree.  Integer types read as bigint,
 * float and decimal as double, anything unrecognised (or malformed) as
 * string: the result is only used for widening.
 */
KgType *
kg_type_parse(const char *s)
{
	KgTypeLexer lx = {s, 0};
	KgType	   *t = kg_parse_one(&lx, 0);

	if (t == NULL || s[lx.pos] != '\0')
		return kg_type_new(KGT_STRING);
	return t;
}

/* Exactly n decimal digits at s? */
static bool
kg_digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char) s[i]))
			return false;
	return true;
}

static int
kg_num(const char *s, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/*
 * Classify one value (not NUL-terminated; len bytes): empty is unknown;
 * true/false boolean; an integer that fits 64 bits bigint; another number
 * double; YYYY-MM-DD date; YYYY-MM-DD[T ]HH:MM[:SS[.f]][Z|+-HH[:MM]]
 * timestamp; anything else string.  With json_number the value is a JSON
 * number token (so it is a number).
 */
KgTypeKind
kg_classify_scalar(const char *s, int len, bool json_number)
{
	int			i = 0;
	int			digits = 0;
	bool		frac = false;

	while (len > 0 && isspace((unsigned char) s[0]))
		s++, len--;
	while (len > 0 && isspace((unsigned char) s[len - 1]))
		len--;
	if (len == 0)
		return KGT_UNKNOWN;
	if (!json_number)
	{
		if ((len == 4 && pg_strncasecmp(s, "true", 4) == 0) ||
			(len == 5 && pg_strncasecmp(s, "false", 5) == 0))
			return KGT_BOOLEAN;
		if (len >= 10 && kg_digits(s, 4) && s[4] == '-' && kg_digits(s + 5, 2) && s[7] == '-' &&
			kg_digits(s + 8, 2) && kg_num(s + 5, 2) >= 1 && kg_num(s + 5, 2) <= 12 &&
			kg_num(s + 8, 2) >= 1 && kg_num(s + 8, 2) <= 31)
		{
			const char *p = s + 10;
			int			rest = len - 10;

			if (rest == 0)
				return KGT_DATE;
			if (rest >= 6 && (p[0] == 'T' || p[0] == ' ') && kg_digits(p + 1, 2) && p[3] == ':' &&
				kg_digits(p + 4, 2) && kg_num(p + 1, 2) < 24 && kg_num(p + 4, 2) < 60)
			{
				p += 6;
				rest -= 6;
				if (rest >= 3 && p[0] == ':' && kg_digits(p + 1, 2) && kg_num(p + 1, 2) <= 60)
				{
					p += 3;
					rest -= 3;
					if (rest >= 2 && p[0] == '.' && isdigit((unsigned char) p[1]))
					{
						p++, rest--;
						while (rest > 0 && isdigit((unsigned char) p[0]))
							p++, rest--;
					}
				}
				if (rest == 1 && (p[0] == 'Z' || p[0] == 'z'))
					return KGT_TIMESTAMP;
				if (rest == 0)
					return KGT_TIMESTAMP;
				if ((p[0] == '+' || p[0] == '-') &&
					((rest == 3 && kg_digits(p + 1, 2)) ||
					 (rest == 5 && kg_digits(p + 1, 4)) ||
					 (rest == 6 && kg_digits(p + 1, 2) && p[3] == ':' && kg_digits(p + 4, 2))))
					return KGT_TIMESTAMP;
			}
			return KGT_STRING;
		}
	}
	/* numbers: [-+]digits[.digits][e[-+]digits] */
	if (s[i] == '-' || s[i] == '+')
		i++;
	while (i < len && isdigit((unsigned char) s[i]))
		i++, digits++;
	if (i < len && s[i] == '.')
	{
		frac = true;
		i++;
		while (i < len && isdigit((unsigned char) s[i]))
			i++, digits++;
	}
	if (digits > 0 && i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		int			expdigits = 0;

		frac = true;
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < len && isdigit((unsigned char) s[i]))
			i++, expdigits++;
		if (expdigits == 0)
			return json_number ? KGT_DOUBLE : KGT_STRING;
	}
	if (digits == 0 || i != len)
		return json_number ? KGT_DOUBLE : KGT_STRING;
	if (frac)
		return KGT_DOUBLE;
	/* an integer: does it fit 64 bits? (19 digits may or may not) */
	if (digits < 19)
		return KGT_BIGINT;
	if (digits > 19)
		return KGT_DOUBLE;
	{
		char		tmp[24];
		char	   *end;

		memcpy(tmp, s, len);
		tmp[len] = '\0';
		errno = 0;
		(void) strtoll(tmp, &end, 10);
		return errno == ERANGE ? KGT_DOUBLE : KGT_BIGINT;
	}
}

/*
 * The column (or struct field) name for a header cell or JSON key: lower
 * case letters, digits and underscores (other characters become "_"), at
 * most 255 characters; an empty name becomes "_col".  The result satisfies
 * the catalog's name rule, so hostile headers can only name columns.
 */
char *
kg_column_name(const char *raw, int len)
{
	char	   *out = palloc(Min(len, 255) + 5);
	int			n = 0;

	while (len > 0 && isspace((unsigned char) raw[0]))
		raw++, len--;
	while (len > 0 && isspace((unsigned char) raw[len - 1]))
		len--;
	for (int i = 0; i < len && n < 255; i++)
	{
		unsigned char c = (unsigned char) raw[i];

		if (isalnum(c) && c < 128)
			out[n++] = tolower(c);
		else if (c < 128 || (c & 0xC0) != 0x80)	/* one "_" per character */
			out[n++] = '_';
	}
	if (n == 0)
	{
		strcpy(out, "_col");
		return out;
	}
	out[n] = '\0';
	return out;
}

/*
 * glue._widen_type(a text, b text) -> text: the Glue type that holds values
 * of both (NULL: nothing seen).
 */
Datum
kg_glue_widen_type(PG_FUNCTION_ARGS)
{
	KgType	   *a = PG_ARGISNULL(0) ? NULL : kg_type_parse(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	KgType	   *b = PG_ARGISNULL(1) ? NULL : kg_type_parse(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	KgType	   *m = kg_type_merge(a, b);

	if (m == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(kg_type_to_string(m)));
}
