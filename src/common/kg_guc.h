/*-------------------------------------------------------------------------
 *
 * kg_guc.h
 *		The settings of the runtime and those the components share
 *		(kg_guc.c).  Every setting is under the reserved prefix
 *		"kinesis_glue."; each component declares its own settings in its
 *		own header and defines them in its init function.
 *
 * Locking: none; GUC variables are backend-local copies.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_GUC_H
#define KG_GUC_H

extern void kg_define_common_settings(void);

extern int	kg_max_databases;		/* PGC_POSTMASTER */
extern int	kg_worker_naptime_ms;	/* PGC_SIGHUP */
extern int	kg_launcher_naptime_ms; /* PGC_SIGHUP */
extern int	kg_segment_wait_ms;		/* PGC_SUSET */
extern int	kg_mapping_timeout_ms;	/* PGC_SIGHUP: mapping and video processor calls */
extern int	kg_retention_clock_offset_s;	/* PGC_SIGHUP, tests only */

/* The clock retention is measured against (shifted in tests). */
#define KG_RETENTION_NOW() \
	(GetCurrentTimestamp() + (TimestampTz) kg_retention_clock_offset_s * USECS_PER_SEC)

#endif							/* KG_GUC_H */
