/*-------------------------------------------------------------------------
 *
 * kg_owner_call.h
 *		Run-as-owner functions: the extension's own SQL functions that
 *		carry "SET kinesis_glue.run_as_owner = on" run as the extension
 *		owner, and kinesis_glue.caller() names the role that called them
 *		(see kg_owner_call.c).
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_OWNER_CALL_H
#define KG_OWNER_CALL_H

extern bool kg_run_as_owner_marker;	/* the marker setting; its value is unused */

extern void kg_owner_call_init(void);
extern Oid	kg_owner_call_caller(void);
extern bool kg_owner_call_active(void);

#endif							/* KG_OWNER_CALL_H */
