/*-------------------------------------------------------------------------
 *
 * throughput.h
 *		Per-shard meters in shared memory: token buckets for the Kinesis
 *		throughput quotas and cumulative write counters for the on-demand
 *		scaler (throughput.c).
 *
 * Locking: KgStreamsLock for the meter hash layout; each meter's
 * spinlock for its fields.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_THROUGHPUT_H
#define KG_THROUGHPUT_H

#include "datatype/timestamp.h"
#include "storage/spin.h"

#define KG_QUOTA_IN_BYTES	(1024.0 * 1024.0)	/* per shard per second */
#define KG_QUOTA_IN_RECORDS 1000.0
#define KG_QUOTA_OUT_BYTES	(2.0 * 1024.0 * 1024.0)
#define KG_QUOTA_OUT_CALLS	5.0

typedef struct KgShardMeterKey
{
	Oid			dboid;
	int32		stream_id;
	int32		shard_index;
} KgShardMeterKey;

typedef struct KgShardMeter
{
	KgShardMeterKey key;		/* hash key: must be first */
	slock_t		mutex;
	double		in_bytes;		/* tokens */
	double		in_records;
	double		out_bytes;
	double		out_calls;
	TimestampTz refilled_at;
	uint64		records_in;		/* cumulative since startup */
	uint64		bytes_in;
} KgShardMeter;

extern Size kg_meter_shmem_size(void);
extern void kg_meter_shmem_init(void);
extern KgShardMeter *kg_meter_get(int32 stream_id, int32 shard_index);
extern bool kg_meter_admit_write(KgShardMeter *m, int64 bytes, bool enforce);
extern bool kg_meter_admit_read(KgShardMeter *m);
extern void kg_meter_debit_read(KgShardMeter *m, int64 bytes);
extern void kg_meter_read_totals(int32 stream_id, int32 shard_index, uint64 *records, uint64 *bytes);
extern void kg_meter_forget_stream(Oid dboid, int32 stream_id);

#endif							/* KG_THROUGHPUT_H */
