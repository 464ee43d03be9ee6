/*-------------------------------------------------------------------------
 *
 * firehose_owners.c
 *		What DROP OWNED, REASSIGN OWNED and DROP ROLE (worker/owned.c) do
 *		with the delivery streams a role owns: DROP OWNED deletes them as
 *		the caller (a DirectPut delivery stream with its source stream);
 *		REASSIGN OWNED moves their owner.
 *
 * Locking: the delete functions' own; the catalog UPDATEs lock their rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "firehose/firehose.h"
#include "worker/kg_worker.h"

/* DROP OWNED: delete the roles' delivery streams. */
static void
kg_firehose_drop_owned(Datum roles, DropBehavior behavior)
{
	kg_owned_delete_each("SELECT delivery_stream_name FROM firehose.delivery_streams "
						 "WHERE " KG_OWNED_BY " ORDER BY 1",
						 "SELECT firehose.delete_delivery_stream($1)", roles);
}

/* REASSIGN OWNED, inside kg_catalog_enter. */
static void
kg_firehose_reassign_owned(Datum roles, Oid newrole)
{
	static const char *const sql[] = {
		"UPDATE firehose.delivery_streams SET owner = $2 WHERE " KG_OWNED_BY,
	};

	kg_owned_reassign_sql(sql, lengthof(sql), roles, newrole);
}

static const char *const labels[] = {"Firehose delivery streams", NULL};
static const char *const catalogs[] = {"firehose.delivery_streams", NULL};

const KgOwnedObjects kg_firehose_owned = {
	labels, catalogs, NULL, kg_firehose_drop_owned, kg_firehose_reassign_owned
};
