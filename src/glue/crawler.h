/*-------------------------------------------------------------------------
 *
 * crawler.h
 *		Glue crawlers: the inferred-type tree (crawl_types.c), file listing
 *		(crawl_files.c), file sampling and schema inference
 *		(crawl_sample.c), and the worker side (crawler_worker.c).  The
 *		crawler API and the crawl steps are SQL (crawlers.sql, crawl.sql).
 *
 * Locking: none of its own; see crawler_worker.c for the crawl states.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_GLUE_CRAWLER_H
#define KG_GLUE_CRAWLER_H

#include "fmgr.h"
#include "lib/stringinfo.h"

/* Inferred types, in widening order for the primitives. */
typedef enum KgTypeKind
{
	KGT_UNKNOWN,				/* only NULLs or empty values seen */
	KGT_BOOLEAN,
	KGT_BIGINT,
	KGT_DOUBLE,
	KGT_DATE,
	KGT_TIMESTAMP,
	KGT_STRING,
	KGT_ARRAY,
	KGT_STRUCT
} KgTypeKind;

typedef struct KgType
{
	KgTypeKind	kind;
	struct KgType *elem;		/* KGT_ARRAY: element type */
	int			nfields;		/* KGT_STRUCT: fields in order of appearance */
	int			maxfields;
	char	  **names;
	struct KgType **fields;
} KgType;

/* limits that keep a hostile sample from building huge types */
#define KG_TYPE_MAX_FIELDS 1000
#define KG_TYPE_MAX_DEPTH 32
#define KG_TYPE_MAX_LENGTH 131072

extern KgType *kg_type_new(KgTypeKind kind);
extern KgType *kg_type_merge(KgType *a, KgType *b);
extern void kg_type_add_field(KgType *st, const char *name, KgType *t);
extern void kg_type_print(StringInfo buf, const KgType *t);
extern char *kg_type_to_string(const KgType *t);
extern KgType *kg_type_parse(const char *s);
extern KgTypeKind kg_classify_scalar(const char *s, int len, bool json_number);
extern char *kg_column_name(const char *raw, int len);

/* worker side */
extern void kg_glue_crawler_supervise(void);
extern PGDLLEXPORT void kg_glue_crawler_main(Datum main_arg);

#endif							/* KG_GLUE_CRAWLER_H */
