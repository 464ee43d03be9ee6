/*-------------------------------------------------------------------------
 *
 * standby.h
 *		Reads on hot standbys: the stable bounds the primary's worker
 *		publishes in kinesis.stream_bounds, the bound a standby reads up to,
 *		and the refusal of writes there (naming the primary).
 *
 * Locking: see standby.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_STANDBY_H
#define KG_STANDBY_H

#include "datatype/timestamp.h"

/* worker task (primary) */
extern int	kg_standby_publish_interval_ms(void);
extern void kg_standby_publish_bounds(void);

/* the published (on a standby: replayed) bound; 0 when none */
extern int64 kg_published_bound(int32 stream_id, TimestampTz *published_at);

/* how long a waiting read on a standby sleeps between looks at the bound */
extern int	kg_standby_poll_ms(void);

/* "the primary server at host ... port ..." (address only for pg_read_all_stats) */
extern char *kg_standby_primary(void);
extern void kg_refuse_write_in_recovery(const char *what);

#endif							/* KG_STANDBY_H */
