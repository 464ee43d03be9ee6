/*-------------------------------------------------------------------------
 *
 * record_rows.h
 *		Rows of kinesis.record built from the stored rows of a shard by
 *		copying their bytes (record_rows.c).
 *
 * Locking: none; the stored rows are those read.c's shard reader returns,
 * valid until its next step (or during a sink's call).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_RECORD_ROWS_H
#define KG_RECORD_ROWS_H

#include "access/htup_details.h"
#include "utils/tuplestore.h"

#include "streams/read.h"

/* header and shard_id of the rows built: 24 + 24 bytes for kinesis.record */
#define KG_RECORD_HEAD_MAX 128

typedef struct KgRecordRows
{
	TupleDesc	desc;			/* kinesis.record's five columns, then NULL ones */
	Datum		shard_id;		/* text, the same in every row */
	uint16		head_len;		/* bytes of head; 0: no template (yet) */
	bool		no_copy;		/* the first row did not match: always form */
	char		head[KG_RECORD_HEAD_MAX];	/* header and shard_id of a row */
	char	   *scratch;		/* a row being put into a tuplestore */
	Size		scratch_cap;
} KgRecordRows;

extern void kg_record_rows_init(KgRecordRows *b, TupleDesc desc, int32 shard_index);
extern void kg_record_rows_slot_values(KgRecordRows *b, const KgStoredRecord *rec, Datum *values,
									   bool *nulls, MemoryContext row_cxt);
extern Size kg_record_rows_copy_len(KgRecordRows *b, const KgStoredRecord *rec);
extern void kg_record_rows_copy(KgRecordRows *b, const KgStoredRecord *rec,
								HeapTupleHeader dst, Size len);
extern HeapTuple kg_record_rows_form(KgRecordRows *b, const KgStoredRecord *rec, bool detoast);
extern void kg_record_rows_put(KgRecordRows *b, const KgStoredRecord *rec, Tuplestorestate *store);

#endif							/* KG_RECORD_ROWS_H */
