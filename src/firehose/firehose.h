/*-------------------------------------------------------------------------
 *
 * firehose.h
 *		Firehose delivery: the worker task (delivery.c), the record formats
 *		of file and program destinations (record_format.c), object prefixes
 *		(prefix.c) and the object writer (objects.c).  The SQL surface is in
 *		firehose.sql and firehose_delivery.sql.
 *
 * Locking: see delivery.c and objects.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_FIREHOSE_H
#define KG_FIREHOSE_H

#include "lib/stringinfo.h"
#include "utils/array.h"

/* How a record becomes a line of a file or program destination. */
typedef enum KgFileFormat
{
	KG_FORMAT_JSONLINES,		/* the record's JSON, one per line */
	KG_FORMAT_CSV,				/* COPY's csv format */
	KG_FORMAT_TEXT				/* COPY's text format */
} KgFileFormat;

/* firehose_init.c */
extern void kg_firehose_init(void);

/* firehose_owners.c: for DROP/REASSIGN OWNED and DROP ROLE */
struct KgOwnedObjects;
extern const struct KgOwnedObjects kg_firehose_owned;
extern int	kg_delivery_timeout_ms;	/* PGC_SIGHUP */

/* delivery.c */
extern void kg_firehose_delivery(void);
extern PGDLLEXPORT void kg_firehose_delivery_main(Datum main_arg);

/* record_format.c */
extern KgFileFormat kg_file_format_from_name(const char *name);
extern char **kg_column_names(ArrayType *columns, int *ncolumns);
extern void kg_append_header(StringInfo out, KgFileFormat format, char **columns, int ncolumns);
extern void kg_append_record_line(StringInfo out, KgFileFormat format, char **columns,
								  int ncolumns, const char *data, int len);

/* objects.c */
extern void kg_firehose_init_backend(void);

#endif							/* KG_FIREHOSE_H */
