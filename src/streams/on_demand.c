/*-------------------------------------------------------------------------
 *
 * on_demand.c
 *		The worker task that scales ON_DEMAND streams: it measures each open
 *		shard's write rate from the shared write counters every
 *		kinesis_glue.on_demand_interval, splits a shard whose rate stayed
 *		above the split thresholds for on_demand_sustain measurements, and
 *		merges two adjacent shards whose rates both stayed below the merge
 *		threshold as long, never below on_demand_min_shards.  After an action
 *		the stream rests for on_demand_cooldown (hysteresis: no flapping).
 *		Every action is logged and recorded in kinesis.scaling_actions.
 *
 * Locking: as resharding (reshard.c); one transaction per stream.  The
 * measurements live in the worker's memory and restart empty after a
 * restart of the worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "streams/streams.h"
#include "streams/on_demand.h"
#include "streams/reshard.h"
#include "streams/segments.h"
#include "streams/stream_cache.h"
#include "streams/throughput.h"
#include "worker/kg_worker.h"

typedef struct KgShardRateKey
{
	int32		stream_id;
	int32		shard_index;
} KgShardRateKey;

typedef struct KgShardRate
{
	KgShardRateKey key;
	uint64		records;		/* totals at the last measurement */
	uint64		bytes;
	TimestampTz at;
	int			hot;			/* consecutive measurements above split */
	int			cold;			/* consecutive measurements below merge */
	double		rate;			/* records/s at the last measurement */
} KgShardRate;

typedef struct KgStreamRest
{
	int32		stream_id;
	TimestampTz last_action;
} KgStreamRest;

static HTAB *ShardRates = NULL;
static HTAB *StreamRests = NULL;

int			kg_on_demand_min_shards = 4;

static void
kg_on_demand_init(void)
{
	HASHCTL		ctl;

	if (ShardRates)
		return;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(KgShardRateKey);
	ctl.entrysize = sizeof(KgShardRate);
	ctl.hcxt = TopMemoryContext;
	ShardRates = hash_create("kinesis_glue shard rates", 256, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(int32);
	ctl.entrysize = sizeof(KgStreamRest);
	StreamRests = hash_create("kinesis_glue stream rests", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Record a scaling action in the log and in kinesis.scaling_actions. */
static void
kg_record_action(KgStream *s, const char *action, const char *shards, const char *reason)
{
	KgCatalogContext cc;

	ereport(LOG,
			(errmsg("kinesis_glue on-demand scaling: %s %s of stream \"%s\"", action, shards, s->name),
			 errdetail("%s", reason)));
	kg_catalog_enter(&cc, false);
	kg_spi_exec("INSERT INTO kinesis.scaling_actions (stream_id, stream_name, action, shards, reason) "
				"VALUES ($1, $2, $3, $4, $5)",
				5, (Oid[]) {INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID},
				(Datum[]) {Int32GetDatum(s->stream_id), CStringGetTextDatum(s->name),
						   CStringGetTextDatum(action), CStringGetTextDatum(shards),
						   CStringGetTextDatum(reason)}, NULL, false);
	kg_catalog_exit(&cc);
}

/* One stream: measure, then at most one split or merge. */
static void
kg_scale_stream(void *arg)
{
	int32		stream_id = *(int32 *) arg;
	KgStream   *s = kg_stream_get_by_id(stream_id, true);
	TimestampTz now = GetCurrentTimestamp();
	KgShardRate **rates;
	KgStreamRest *rest;
	bool		found;
	KgShard    *hottest = NULL;
	double		hottest_rate = -1;

	if (s == NULL || strcmp(s->mode, "ON_DEMAND") != 0)
		return;
	rates = palloc0(sizeof(KgShardRate *) * Max(s->nopen, 1));
	for (int i = 0; i < s->nopen; i++)
	{
		KgShard    *sh = s->open[i];
		KgShardRateKey key = {stream_id, sh->shard_index};
		KgShardRate *r = hash_search(ShardRates, &key, HASH_ENTER, &found);
		uint64		records,
					bytes;

		kg_meter_read_totals(stream_id, sh->shard_index, &records, &bytes);
		if (found && now > r->at && records >= r->records)
		{
			double		secs = (double) (now - r->at) / USECS_PER_SEC;
			double		rrate = (records - r->records) / secs;
			double		brate = (bytes - r->bytes) / secs;

			r->rate = rrate;
			r->hot = (rrate > kg_on_demand_split_records || brate > kg_on_demand_split_bytes) ? r->hot + 1 : 0;
			r->cold = (rrate < kg_on_demand_merge_records) ? r->cold + 1 : 0;
		}
		else if (!found)
		{
			r->hot = r->cold = 0;
			r->rate = 0;
		}
		r->records = records;
		r->bytes = bytes;
		r->at = now;
		rates[i] = r;
		if (r->hot >= kg_on_demand_sustain && r->rate > hottest_rate)
		{
			hottest = sh;
			hottest_rate = r->rate;
		}
	}

	rest = hash_search(StreamRests, &stream_id, HASH_ENTER, &found);
	if (!found)
		rest->last_action = 0;
	if (rest->last_action != 0 &&
		!TimestampDifferenceExceeds(rest->last_action, now, kg_on_demand_cooldown_s * 1000))
		return;

	if (hottest)
	{
		kg_reshard_split_half(s->name, hottest->shard_index);
		kg_record_action(s, "SPLIT", kg_shard_id_string(hottest->shard_index),
						 psprintf("%.0f records/s for %d measurements (threshold %d records/s or %d bytes/s)",
								  hottest_rate, kg_on_demand_sustain, kg_on_demand_split_records,
								  kg_on_demand_split_bytes));
		rest->last_action = now;
		return;
	}
	if (s->nopen <= kg_on_demand_min_shards)
		return;
	for (int i = 0; i + 1 < s->nopen; i++)
	{
		KgShard    *a = s->open[i];
		KgShard    *b = s->open[i + 1];

		if (a->end_hash + 1 == b->start_hash &&
			rates[i]->cold >= kg_on_demand_sustain && rates[i + 1]->cold >= kg_on_demand_sustain)
		{
			kg_reshard_merge_pair(s->name, a->shard_index);
			kg_record_action(s, "MERGE",
							 psprintf("%s and %s", kg_shard_id_string(a->shard_index), kg_shard_id_string(b->shard_index)),
							 psprintf("%.0f and %.0f records/s for %d measurements (threshold %d records/s)",
									  rates[i]->rate, rates[i + 1]->rate, kg_on_demand_sustain,
									  kg_on_demand_merge_records));
			rest->last_action = now;
			return;
		}
	}
}

/* Worker task: scale every ON_DEMAND stream, one transaction each. */
void
kg_on_demand_scaling(void)
{
	KgStreamIdList l = {NIL, true};
	ListCell   *lc;

	kg_on_demand_init();
	if (!kg_run_in_transaction("kinesis_glue: list on-demand streams", kg_list_stream_ids, &l))
		return;
	foreach(lc, l.ids)
	{
		int32		id = lfirst_int(lc);

		(void) kg_run_in_transaction("kinesis_glue: on-demand scaling", kg_scale_stream, &id);
	}
	list_free(l.ids);
}

int
kg_on_demand_interval_ms(void)
{
	return kg_on_demand_interval_s * 1000;
}
