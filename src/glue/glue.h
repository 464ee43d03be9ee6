/*-------------------------------------------------------------------------
 *
 * glue.h
 *		The Glue component: its registration with the runtime and its
 *		settings (glue_init.c).
 *
 * Locking: none; GUC variables are backend-local copies.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_GLUE_H
#define KG_GLUE_H

extern void kg_glue_init(void);
extern void kg_glue_register_bookmark_scan(void);	/* bookmarks.c */

/* glue_owners.c: for DROP/REASSIGN OWNED and DROP ROLE */
struct KgOwnedObjects;
extern const struct KgOwnedObjects kg_glue_owned;

extern int	kg_max_job_runs;		/* PGC_SIGHUP: parallel Glue job runs per database */
extern int	kg_job_run_retention_s;	/* PGC_SIGHUP: history of ended job runs */

#endif							/* KG_GLUE_H */
