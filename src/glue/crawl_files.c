/*-------------------------------------------------------------------------
 *
 * crawl_files.c
 *		Listing the files of a crawler's directory target:
 *
 *		glue._list_files(root text, exclusions text[], max_files int)
 *		    -> SETOF (path text, folder text, size bigint,
 *		              mtime timestamptz, error text)
 *		glue._glob_match(pattern text, path text) -> boolean
 *
 * The listing walks root recursively, in name order, and returns one row
 * per regular file: its absolute path, the folder it is in relative to
 * root ('' for root itself), size and modification time.  A folder that
 * cannot be read gives a row with error set (and no size) instead of
 * failing the crawl.  Names starting with "." or "_" are skipped
 * (temporary and marker files such as _SUCCESS); symbolic links to
 * folders are not followed (no cycles, no escaping root through a link).
 *
 * Exclusions are Glue's globs, matched against the path relative to root:
 * "*" within one folder name, "**" across folders, "?", "[abc]", "[!a-z]",
 * "{csv,json}" (not nested) and "\" to escape.  A folder whose relative
 * path matches is not entered.
 *
 * Rights: the current user must have the privileges of
 * pg_read_server_files (or be superuser), as COPY FROM a file asks; the
 * crawler runs as its owner, so the owner's rights are what count.  root
 * must be absolute without "." or ".." components.
 *
 * Locking: none.  Directories are opened with AllocateDir, so an error
 * closes them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "glue/crawler.h"

PG_FUNCTION_INFO_V1(kg_glue_list_files);
PG_FUNCTION_INFO_V1(kg_glue_glob_match);

#define KG_GLOB_BUDGET 100000	/* match steps per path before giving up */

/*
 * ERROR unless the current user may read server files, and path is an
 * absolute path without "." or ".." components.  Shared with
 * crawl_sample.c.
 */
void		kg_glue_check_read_path(const char *path);

void
kg_glue_check_read_path(const char *path)
{
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("AccessDeniedException: permission denied to read server files"),
				 errdetail("Only roles with privileges of the \"pg_read_server_files\" role may crawl server directories."),
				 errhint("GRANT pg_read_server_files TO the crawler's owner.")));
	if (path[0] != '/' || strstr(path, "/../") || strstr(path, "/./") ||
		strcmp(path + Max((int) strlen(path) - 3, 0), "/..") == 0 ||
		strcmp(path + Max((int) strlen(path) - 2, 0), "/.") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("InvalidInputException: path \"%s\" is not an absolute path without \".\" or \"..\" components",
						path)));
}

/* Match pattern p against string s; *budget counts steps. */
static bool
kg_glob(const char *p, const char *s, int *budget)
{
	check_stack_depth();		/* "*" and "**" recurse */
	for (;;)
	{
		if (--(*budget) <= 0)
			return false;
		switch (*p)
		{
			case '\0':
				return *s == '\0';
			case '*':
				if (p[1] == '*')
				{
					const char *rest = p + 2;

					if (*rest == '/' && kg_glob(rest + 1, s, budget))
						return true;
					for (const char *t = s;; t++)
					{
						if (kg_glob(rest, t, budget))
							return true;
						if (*t == '\0' || *budget <= 0)
							return false;
					}
				}
				for (const char *t = s;; t++)
				{
					if (kg_glob(p + 1, t, budget))
						return true;
					if (*t == '\0' || *t == '/' || *budget <= 0)
						return false;
				}
			case '?':
				if (*s == '\0' || *s == '/')
					return false;
				p++, s++;
				break;
			case '[':
				{
					const char *q = p + 1;
					bool		negate = (*q == '!' || *q == '^');
					bool		found = false;

					if (negate)
						q++;
					if (*s == '\0' || *s == '/')
						return false;
					do
					{
						if (*q == '\0')
							return false;	/* unterminated: no match */
						if (q[1] == '-' && q[2] != ']' && q[2] != '\0')
						{
							if ((unsigned char) *s >= (unsigned char) q[0] &&
								(unsigned char) *s <= (unsigned char) q[2])
								found = true;
							q += 3;
						}
						else
						{
							if (*q == *s)
								found = true;
							q++;
						}
					} while (*q != ']');
					if (found == negate)
						return false;
					p = q + 1;
					s++;
					break;
				}
			case '{':
				{
					const char *close = strchr(p, '}');
					const char *alt = p + 1;

					if (close == NULL)
						return *s == '{' ? kg_glob(p + 1, s + 1, budget) : false;
					while (alt <= close)
					{
						const char *end = alt;
						char	   *candidate;
						bool		m;

						while (end < close && *end != ',')
							end++;
						candidate = psprintf("%.*s%s", (int) (end - alt), alt, close + 1);
						m = kg_glob(candidate, s, budget);
						pfree(candidate);
						if (m)
							return true;
						alt = end + 1;
					}
					return false;
				}
			case '\\':
				if (p[1] != '\0')
					p++;
				/* FALLTHROUGH */
			default:
				if (*p != *s)
					return false;
				p++, s++;
				break;
		}
	}
}

/* Does any of the patterns match rel? */
static bool
kg_excluded(char **patterns, int npatterns, const char *rel)
{
	for (int i = 0; i < npatterns; i++)
	{
		int			budget = KG_GLOB_BUDGET;

		if (kg_glob(patterns[i], rel, &budget))
			return true;
	}
	return false;
}

static int
kg_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * glue._glob_match(pattern, path): whether a Glue exclusion glob matches a
 * relative path (for tests and for the crawl's table exclusions).
 */
Datum
kg_glue_glob_match(PG_FUNCTION_ARGS)
{
	int			budget = KG_GLOB_BUDGET;

	PG_RETURN_BOOL(kg_glob(text_to_cstring(PG_GETARG_TEXT_PP(0)),
						   text_to_cstring(PG_GETARG_TEXT_PP(1)), &budget));
}

/* glue._list_files(root, exclusions, max_files): see the file header. */
Datum
kg_glue_list_files(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *root;
	char	  **patterns = NULL;
	int			npatterns = 0;
	int64		max_files = PG_ARGISNULL(2) ? INT64_MAX : PG_GETARG_INT32(2);
	int64		nfiles = 0;
	List	   *stack;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("InvalidInputException: path must not be null")));
	root = text_to_cstring(PG_GETARG_TEXT_PP(0));
	kg_glue_check_read_path(root);
	if (strlen(root) > 1 && root[strlen(root) - 1] == '/')
		root[strlen(root) - 1] = '\0';
	if (!PG_ARGISNULL(1))
	{
		Datum	   *elems;
		bool	   *nulls;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &npatterns);
		patterns = palloc(sizeof(char *) * Max(npatterns, 1));
		for (int i = 0; i < npatterns; i++)
			patterns[i] = nulls[i] ? "" : TextDatumGetCString(elems[i]);
	}
	InitMaterializedSRF(fcinfo, 0);

	/* folders still to list, relative to root; depth first in name order */
	stack = list_make1(pstrdup(""));
	while (stack != NIL && nfiles < max_files)
	{
		char	   *rel = llast(stack);
		char	   *dirpath = rel[0] ? psprintf("%s/%s", root, rel) : pstrdup(root);
		DIR		   *dir;
		struct dirent *de;
		char	  **names = NULL;
		int			nnames = 0,
					maxnames = 0;
		List	   *subdirs = NIL;

		stack = list_delete_last(stack);
		CHECK_FOR_INTERRUPTS();
		dir = AllocateDir(dirpath);
		if (dir == NULL)
		{
			Datum		values[5];
			bool		nulls[5] = {false, false, true, true, false};

			if (rel[0] == '\0')
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not open directory \"%s\": %m", dirpath)));
			values[0] = CStringGetTextDatum(dirpath);
			values[1] = CStringGetTextDatum(rel);
			values[4] = CStringGetTextDatum(psprintf("could not open directory: %s", strerror(errno)));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			continue;
		}
		while ((de = ReadDirExtended(dir, dirpath, LOG)) != NULL)
		{
			if (de->d_name[0] == '.' || de->d_name[0] == '_')
				continue;
			if (nnames == maxnames)
			{
				maxnames = Max(64, maxnames * 2);
				names = names ? repalloc(names, sizeof(char *) * maxnames) : palloc(sizeof(char *) * maxnames);
			}
			names[nnames++] = pstrdup(de->d_name);
		}
		FreeDir(dir);
		if (nnames > 0)
			qsort(names, nnames, sizeof(char *), kg_cmp_names);

		for (int i = 0; i < nnames && nfiles < max_files; i++)
		{
			char	   *childrel = rel[0] ? psprintf("%s/%s", rel, names[i]) : pstrdup(names[i]);
			char	   *childpath = psprintf("%s/%s", root, childrel);
			struct stat st;

			if (lstat(childpath, &st) != 0)
				continue;		/* vanished meanwhile */
			if (S_ISDIR(st.st_mode))
			{
				if (!kg_excluded(patterns, npatterns, childrel))
					subdirs = lappend(subdirs, childrel);
				continue;
			}
			if (S_ISLNK(st.st_mode) && (stat(childpath, &st) != 0 || !S_ISREG(st.st_mode)))
				continue;		/* dangling, or a link to a folder */
			if (!S_ISREG(st.st_mode) || kg_excluded(patterns, npatterns, childrel))
				continue;
			{
				Datum		values[5];
				bool		nulls[5] = {false, false, false, false, true};

				values[0] = CStringGetTextDatum(childpath);
				values[1] = CStringGetTextDatum(rel);
				values[2] = Int64GetDatum((int64) st.st_size);
				values[3] = TimestampTzGetDatum(time_t_to_timestamptz(st.st_mtime));
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
				nfiles++;
			}
		}
		/* push in reverse so the first subfolder is listed next */
		for (int i = list_length(subdirs) - 1; i >= 0; i--)
			stack = lappend(stack, list_nth(subdirs, i));
		list_free(subdirs);
	}
	return (Datum) 0;
}
