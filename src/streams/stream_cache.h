/*-------------------------------------------------------------------------
 *
 * stream_cache.h
 *		Backend-local cache of data stream metadata (catalog rows, shard
 *		layout, segment relations), validated against the shared version.
 *
 * Locking: none; the shared version check happens under the stream's
 * spinlock when counters are taken (kg_stream_state_take).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_STREAM_CACHE_H
#define KG_STREAM_CACHE_H

#include "common/kg_hashkey.h"
#include "streams/stream_state.h"
#include "utils/hsearch.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"
#include "datatype/timestamp.h"
#include "utils/timestamp.h"

#define KG_STREAM_NAME_MAX 128

typedef struct KgShard
{
	int32		shard_index;
	int32		parent_index;	/* -1: none */
	int32		adjacent_parent_index;	/* -1: none */
	uint128		start_hash;
	uint128		end_hash;
	int64		starting_seq;
	int64		ending_seq;		/* valid when closed */
	bool		closed;
	TimestampTz closed_at;		/* valid when closed */
} KgShard;

typedef struct KgStream
{
	char		name[KG_STREAM_NAME_MAX + 1];	/* hash key */
	bool		valid;
	int32		stream_id;
	Oid			record_table;
	Oid			owner;			/* kinesis.streams.owner */
	int64		segment_capacity;
	TimestampTz created_at;
	int64		retention_us;
	TimestampTz trim_before;	/* floor of the trim horizon (0: none) */
	char		status[16];
	char		mode[16];
	int			quotas;			/* stream setting: 1 on, 0 off, -1 follow GUC */
	bool		auto_distribution;	/* record distribution strategy AUTO */
	KgStreamState *state;
	uint32		version;		/* shared version this copy was read at */
	LocalTransactionId loaded_lxid; /* transaction that read it (standbys) */
	MemoryContext cxt;			/* owns shards, open and segments */
	int			nshards;
	KgShard    *shards;			/* by shard index */
	int			nopen;
	KgShard   **open;			/* open shards by starting hash key */
	HTAB	   *segments;		/* segment_no -> relation OID */
	int64		nudged_segment; /* missing segment the worker was woken for */
} KgStream;

extern KgStream *kg_stream_get(const char *name, bool missing_ok);
extern KgStream *kg_stream_get_as_seen(const char *name);
extern void kg_stream_cache_reset(void);
extern KgStream *kg_stream_get_by_id(int32 stream_id, bool missing_ok);
extern KgStream *kg_stream_reload(KgStream *s);
extern KgShard *kg_stream_find_shard(KgStream *s, int32 shard_index);
extern bool kg_shard_expired(KgStream *s, KgShard *sh);
extern TimestampTz kg_stream_horizon(KgStream *s);
extern bool kg_stream_quotas_on(KgStream *s);
extern bool kg_stream_owned(KgStream *s);
extern bool kg_stream_metered(KgStream *s);
extern KgShard *kg_stream_route(KgStream *s, uint128 hash);
extern Oid	kg_segment_relid(KgStream *s, int64 segment_no);
extern int	kg_segment_indexes(KgStream *s, int64 segment_no, Relation rel, Oid **oids,
							   IndexInfo ***infos);
extern char *kg_segment_relname(int32 stream_id, int64 segment_no);
extern void kg_check_stream_name(const char *name);
extern void kg_check_limits(const char *stream_name, int additional_shards, bool to_on_demand);
extern void kg_check_limits_as_owner(const char *stream_name, int additional_shards, bool to_on_demand);
extern int64 kg_interval_usecs(Interval *iv);
extern char *kg_shard_id_string(int32 shard_index);
extern int32 kg_parse_shard_id(const char *stream_name, const char *shard_id);
extern void kg_stream_not_found(const char *name) pg_attribute_noreturn();

#endif							/* KG_STREAM_CACHE_H */
