/*-------------------------------------------------------------------------
 *
 * kg_catalog.h
 *		Running our own fixed SQL against the extension's catalog tables:
 *		as the extension owner, with search_path pinned.
 *
 * SQL functions check the caller's privileges first (they are SECURITY
 * INVOKER), then use these helpers to write catalog tables that callers
 * cannot write themselves, as CREATE TABLE writes pg_class.  Only fixed
 * statements with bound parameters run here; never user text.
 *
 * Locking: none of its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_CATALOG_H
#define KG_CATALOG_H

#include "executor/spi.h"

typedef struct KgCatalogContext
{
	Oid			save_userid;
	int			save_sec_context;
	int			guc_level;
	bool		snapshot_pushed;
} KgCatalogContext;

extern int	kg_internal_ddl_depth;
extern Oid	kg_extension_owner(void);
extern void kg_catalog_enter(KgCatalogContext *ctx, bool latest_snapshot);
extern void kg_catalog_exit(KgCatalogContext *ctx);
extern char *kg_free_relation_name(const char *nspname, const char *name, int32 id);
extern int	kg_spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
						const char *nulls, bool read_only);

#endif							/* KG_CATALOG_H */
