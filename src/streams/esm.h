/*-------------------------------------------------------------------------
 *
 * esm.h
 *		Event source mappings: catalog helpers (esm_catalog.c), the
 *		supervisor task and the runner workers (esm_runner.c).
 *
 * Locking: see those files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_ESM_H
#define KG_ESM_H

#include "fmgr.h"

extern Oid	kg_record_array_type(void);
extern char *kg_check_failure_destination(const char *dest);

/* worker side */
extern void kg_esm_supervise(void);
extern PGDLLEXPORT void kg_esm_runner_main(Datum main_arg);

#endif							/* KG_ESM_H */
