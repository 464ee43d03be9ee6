/*-------------------------------------------------------------------------
 *
 * consumer_lag.c
 *		The lag function of the kinesis.consumer_positions view: records,
 *		bytes and the oldest arrival readable after a consumer's checkpoint.
 *
 * Locking: AccessShareLock on the segments read (read.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/timestamp.h"

#include "streams/read.h"
#include "streams/stream_cache.h"

typedef struct KgLagCount
{
	int64		records;
	TimestampTz oldest;
	int64		bytes;
} KgLagCount;

static bool
kg_lag_sink(void *arg, int64 seq, TimestampTz arrival, Datum pk, Datum data)
{
	KgLagCount *c = (KgLagCount *) arg;

	if (c->records++ == 0)
		c->oldest = arrival;
	/* the data's bytes, as Firehose's buffer size and IncomingBytes count */
	c->bytes += toast_raw_datum_size(data) - VARHDRSZ;
	return true;
}

PG_FUNCTION_INFO_V1(kg_shard_lag);

/*
 * kinesis._shard_lag(stream_id, shard_index, after): records readable after
 * a position and the arrival of the oldest; NULLs when the caller may not
 * read the stream, the shard is gone, or on a hot standby.
 */
Datum
kg_shard_lag(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {true, true, true};
	KgStream   *s = kg_stream_get_by_id(PG_GETARG_INT32(0), true);
	KgShard    *sh = s ? kg_stream_find_shard(s, PG_GETARG_INT32(1)) : NULL;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be composite");
	/* on a hot standby: counted up to the replayed bound */
	if (sh != NULL && pg_class_aclcheck(s->record_table, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
	{
		KgLagCount c = {0, 0, 0};
		int64		pos = PG_GETARG_INT64(2);

		for (;;)
		{
			KgReadResult res;

			kg_read_shard_range(s, sh, pos, 10000, PG_INT64_MAX, kg_lag_sink, &c, &res);
			if (!res.more)
				break;
			pos = res.next_position;
			CHECK_FOR_INTERRUPTS();
		}
		values[0] = Int64GetDatum(c.records);
		nulls[0] = false;
		values[1] = TimestampTzGetDatum(c.oldest);
		nulls[1] = c.records == 0;
		values[2] = Int64GetDatum(c.bytes);
		nulls[2] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
