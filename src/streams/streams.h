/*-------------------------------------------------------------------------
 *
 * streams.h
 *		The Data Streams component: its registration with the runtime and
 *		its settings (streams_init.c).
 *
 * Locking: none; GUC variables are backend-local copies.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_STREAMS_H
#define KG_STREAMS_H

extern void kg_streams_init(void);
extern void kg_record_scan_init(void);	/* record_scan.c */
extern void kg_record_read_register_scans(void);	/* record_read.c */
extern void kg_put_register_scan(void);	/* put.c */
extern void kg_unnest_scan_init(void);	/* unnest_scan.c */

/* stream_owners.c: for DROP/REASSIGN OWNED and DROP ROLE */
struct KgOwnedObjects;
extern const struct KgOwnedObjects kg_streams_owned;

extern int	kg_max_streams;			/* PGC_POSTMASTER */
extern int	kg_iterator_ttl_ms;		/* PGC_SUSET */
extern int	kg_standby_bound_interval_ms;	/* PGC_SIGHUP: 0 publishes no bounds */
extern int	kg_segment_records;		/* PGC_SUSET: capacity of new streams' segments */
extern int	kg_segment_interval_s;	/* PGC_SIGHUP: time after which a segment is closed */
extern int	kg_segments_ahead;		/* PGC_SIGHUP */
extern int	kg_lease_timeout_ms;	/* PGC_SIGHUP */
extern bool kg_throughput_quotas;	/* PGC_SIGHUP */
extern bool kg_enable_record_scan;	/* PGC_USERSET */
extern int	kg_on_demand_interval_s;	/* PGC_SIGHUP */
extern int	kg_on_demand_split_records;
extern int	kg_on_demand_split_bytes;
extern int	kg_on_demand_merge_records;
extern int	kg_on_demand_sustain;
extern int	kg_on_demand_cooldown_s;

#endif							/* KG_STREAMS_H */
