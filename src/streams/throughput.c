/*-------------------------------------------------------------------------
 *
 * throughput.c
 *		Per-shard token buckets (the Kinesis quotas: 1 MiB/s and 1,000
 *		records/s in, 2 MiB/s and 5 calls/s out, each bucket holding one
 *		second's worth) and cumulative write counters.
 *
 * Quotas are enforced only when kinesis_glue.throughput_quotas is on or
 * the stream's own setting says so; the write counters are kept for
 * ON_DEMAND streams and streams with quotas, for the on-demand scaler.
 * When the meter hash is full, shards go unmetered (never refused).
 *
 * Locking: KgStreamsLock (shared to find, exclusive to add or
 * remove meters); the meter's spinlock around a few arithmetic steps.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "common/kg_shmem.h"
#include "streams/stream_state.h"
#include "streams/streams.h"
#include "streams/throughput.h"

static HTAB *MeterHash = NULL;

static long
kg_meter_capacity(void)
{
	return (long) kg_max_streams * 16;
}

Size
kg_meter_shmem_size(void)
{
	return hash_estimate_size(kg_meter_capacity(), sizeof(KgShardMeter));
}

/* Caller holds AddinShmemInitLock. */
void
kg_meter_shmem_init(void)
{
	HASHCTL		info;

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(KgShardMeterKey);
	info.entrysize = sizeof(KgShardMeter);
	MeterHash = ShmemInitHash("kinesis_glue shard meters", kg_meter_capacity(),
							  kg_meter_capacity(), &info, HASH_ELEM | HASH_BLOBS);
}

/* The meter of a shard of this database, created full; NULL when the hash is full. */
KgShardMeter *
kg_meter_get(int32 stream_id, int32 shard_index)
{
	KgShardMeterKey key;
	KgShardMeter *m;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.dboid = MyDatabaseId;
	key.stream_id = stream_id;
	key.shard_index = shard_index;
	LWLockAcquire(KgStreamsLock, LW_SHARED);
	m = hash_search(MeterHash, &key, HASH_FIND, NULL);
	LWLockRelease(KgStreamsLock);
	if (m)
		return m;
	LWLockAcquire(KgStreamsLock, LW_EXCLUSIVE);
	m = hash_search(MeterHash, &key, HASH_ENTER_NULL, &found);
	if (m && !found)
	{
		SpinLockInit(&m->mutex);
		m->in_bytes = KG_QUOTA_IN_BYTES;
		m->in_records = KG_QUOTA_IN_RECORDS;
		m->out_bytes = KG_QUOTA_OUT_BYTES;
		m->out_calls = KG_QUOTA_OUT_CALLS;
		m->refilled_at = GetCurrentTimestamp();
		m->records_in = 0;
		m->bytes_in = 0;
	}
	LWLockRelease(KgStreamsLock);
	return m;
}

/* Add the tokens earned since the last refill.  Caller holds m->mutex. */
static inline void
kg_meter_refill(KgShardMeter *m, TimestampTz now)
{
	double		secs = (double) (now - m->refilled_at) / USECS_PER_SEC;

	if (secs <= 0)
		return;
	m->in_bytes = Min(KG_QUOTA_IN_BYTES, m->in_bytes + secs * KG_QUOTA_IN_BYTES);
	m->in_records = Min(KG_QUOTA_IN_RECORDS, m->in_records + secs * KG_QUOTA_IN_RECORDS);
	m->out_bytes = Min(KG_QUOTA_OUT_BYTES, m->out_bytes + secs * KG_QUOTA_OUT_BYTES);
	m->out_calls = Min(KG_QUOTA_OUT_CALLS, m->out_calls + secs * KG_QUOTA_OUT_CALLS);
	m->refilled_at = now;
}

/*
 * Account one record of 'bytes' written to the shard.  With enforce, refuse
 * it (returning false, debiting nothing) when the shard's write quota is
 * used up.
 */
bool
kg_meter_admit_write(KgShardMeter *m, int64 bytes, bool enforce)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		ok = true;

	SpinLockAcquire(&m->mutex);
	kg_meter_refill(m, now);
	if (enforce && (m->in_records < 1.0 || m->in_bytes < (double) bytes))
		ok = false;
	else
	{
		m->in_records -= 1.0;
		m->in_bytes -= (double) bytes;
		m->records_in++;
		m->bytes_in += bytes;
	}
	SpinLockRelease(&m->mutex);
	return ok;
}

/* Admit one read call, or refuse it when calls or bytes are used up. */
bool
kg_meter_admit_read(KgShardMeter *m)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		ok;

	SpinLockAcquire(&m->mutex);
	kg_meter_refill(m, now);
	ok = m->out_calls >= 1.0 && m->out_bytes > 0;
	if (ok)
		m->out_calls -= 1.0;
	SpinLockRelease(&m->mutex);
	return ok;
}

/* Charge the bytes a read returned (may go negative: later calls wait). */
void
kg_meter_debit_read(KgShardMeter *m, int64 bytes)
{
	SpinLockAcquire(&m->mutex);
	m->out_bytes -= (double) bytes;
	SpinLockRelease(&m->mutex);
}

/* Cumulative writes of a shard (0 when unmetered). */
void
kg_meter_read_totals(int32 stream_id, int32 shard_index, uint64 *records, uint64 *bytes)
{
	KgShardMeter *m = kg_meter_get(stream_id, shard_index);

	*records = *bytes = 0;
	if (m == NULL)
		return;
	SpinLockAcquire(&m->mutex);
	*records = m->records_in;
	*bytes = m->bytes_in;
	SpinLockRelease(&m->mutex);
}

/* Drop the meters of a deleted stream.  Caller holds no lock. */
void
kg_meter_forget_stream(Oid dboid, int32 stream_id)
{
	HASH_SEQ_STATUS hs;
	KgShardMeter *m;

	LWLockAcquire(KgStreamsLock, LW_EXCLUSIVE);
	hash_seq_init(&hs, MeterHash);
	while ((m = hash_seq_search(&hs)) != NULL)
		if (m->key.dboid == dboid && m->key.stream_id == stream_id)
			hash_search(MeterHash, &m->key, HASH_REMOVE, NULL);
	LWLockRelease(KgStreamsLock);
}
