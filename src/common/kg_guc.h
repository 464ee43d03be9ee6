/*-------------------------------------------------------------------------
 *
 * kg_guc.h
 *		Settings of kinesis_glue (all under the reserved prefix
 *		"kinesis_glue.").  Defined in kinesis_glue.c.
 *
 * Locking: none; GUC variables are backend-local copies.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_GUC_H
#define KG_GUC_H

extern int	kg_max_databases;		/* PGC_POSTMASTER */
extern int	kg_max_streams;			/* PGC_POSTMASTER */
extern int	kg_worker_naptime_ms;	/* PGC_SIGHUP */
extern int	kg_launcher_naptime_ms; /* PGC_SIGHUP */
extern int	kg_iterator_ttl_ms;		/* PGC_SUSET */
extern int	kg_standby_bound_interval_ms;	/* PGC_SIGHUP: 0 publishes no bounds */
extern int	kg_segment_records;		/* PGC_SUSET: capacity of new streams' segments */
extern int	kg_segment_interval_s;	/* PGC_SIGHUP: time after which a segment is closed */
extern int	kg_segments_ahead;		/* PGC_SIGHUP */
extern int	kg_segment_wait_ms;		/* PGC_SUSET */
extern int	kg_mapping_timeout_ms;	/* PGC_SIGHUP */
extern int	kg_delivery_timeout_ms;	/* PGC_SIGHUP */
extern int	kg_lease_timeout_ms;	/* PGC_SIGHUP */
extern bool kg_throughput_quotas;	/* PGC_SIGHUP */
extern int	kg_on_demand_interval_s;	/* PGC_SIGHUP */
extern int	kg_on_demand_split_records;
extern int	kg_on_demand_split_bytes;
extern int	kg_on_demand_merge_records;
extern int	kg_on_demand_sustain;
extern int	kg_on_demand_cooldown_s;
extern int	kg_max_job_runs;		/* PGC_SIGHUP: parallel Glue job runs per database */
extern int	kg_job_run_retention_s;	/* PGC_SIGHUP: history of ended job runs */
extern int	kg_retention_clock_offset_s;	/* PGC_SIGHUP, tests only */

/* The clock retention is measured against (shifted in tests). */
#define KG_RETENTION_NOW() \
	(GetCurrentTimestamp() + (TimestampTz) kg_retention_clock_offset_s * USECS_PER_SEC)

#endif							/* KG_GUC_H */
