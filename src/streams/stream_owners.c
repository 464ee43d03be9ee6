/*-------------------------------------------------------------------------
 *
 * stream_owners.c
 *		What DROP OWNED, REASSIGN OWNED and DROP ROLE (worker/owned.c) do
 *		with the data streams and event source mappings a role owns: DROP
 *		OWNED deletes the mappings, then the streams with their storage and
 *		consumers (kinesis.delete_stream(..., true)), as the caller;
 *		REASSIGN OWNED moves the catalog owner, gives the new owner the
 *		storage privileges an owner holds and gives mappings a new
 *		generation, so their runners restart as the new owner.
 *
 * Locking: the delete functions' own; the catalog UPDATEs lock their rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "common/kg_catalog.h"
#include "streams/stream_state.h"
#include "streams/streams.h"
#include "worker/kg_worker.h"

/* DROP OWNED: mappings first (they read the streams), then the streams. */
static void
kg_streams_drop_owned(Datum roles, DropBehavior behavior)
{
	kg_owned_delete_each("SELECT mapping_id::pg_catalog.text FROM kinesis.event_source_mappings "
						 "WHERE " KG_OWNED_BY " ORDER BY 1",
						 "SELECT kinesis.delete_event_source_mapping($1::pg_catalog.int8)", roles);
	kg_owned_delete_each("SELECT stream_name FROM kinesis.streams WHERE " KG_OWNED_BY " ORDER BY 1",
						 "SELECT kinesis.delete_stream($1, true)", roles);
}

/* A reassigned stream's cached owner is stale: reload it everywhere at commit. */
static void
kg_stream_reassigned(HeapTuple row, TupleDesc desc)
{
	bool		isnull;

	kg_stream_changed_at_commit(DatumGetInt32(SPI_getbinval(row, desc, 2, &isnull)), false);
}

/* REASSIGN OWNED, inside kg_catalog_enter. */
static void
kg_streams_reassign_owned(Datum roles, Oid newrole)
{
	static const char *const sql[] = {
		"UPDATE kinesis.event_source_mappings SET owner = $2, generation = generation + 1, "
		"updated_at = pg_catalog.clock_timestamp() WHERE " KG_OWNED_BY,
	};

	kg_owned_reassign_storage("kinesis.streams", "record_table::pg_catalog.text, stream_id",
							  roles, newrole, kg_stream_reassigned);
	kg_owned_reassign_sql(sql, lengthof(sql), roles, newrole);
}

static const char *const labels[] = {"data streams", "event source mappings", NULL};
static const char *const catalogs[] = {"kinesis.streams", "kinesis.event_source_mappings", NULL};

const KgOwnedObjects kg_streams_owned = {
	labels, catalogs, NULL, kg_streams_drop_owned, kg_streams_reassign_owned
};
