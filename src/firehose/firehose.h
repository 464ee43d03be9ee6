/*-------------------------------------------------------------------------
 *
 * firehose.h
 *		Firehose delivery: the worker task (delivery.c).  The SQL surface is
 *		in firehose.sql.
 *
 * Locking: see delivery.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_FIREHOSE_H
#define KG_FIREHOSE_H

extern void kg_firehose_delivery(void);

#endif							/* KG_FIREHOSE_H */
