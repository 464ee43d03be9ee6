/*-------------------------------------------------------------------------
 *
 * on_demand.h
 *		Worker task scaling ON_DEMAND streams (on_demand.c).
 *
 * Locking: see on_demand.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_ON_DEMAND_H
#define KG_ON_DEMAND_H

extern int	kg_on_demand_min_shards;
extern void kg_on_demand_scaling(void);
extern int	kg_on_demand_interval_ms(void);

#endif							/* KG_ON_DEMAND_H */
