/*-------------------------------------------------------------------------
 *
 * kg_dump.c
 *		What pg_dump needs beyond pg_extension_config_dump: identity
 *		sequences that move past the ids of restored catalog rows.
 *
 * pg_dump writes the rows of the catalogs (src/common/dump.sql) with their
 * ids, but not the identity sequences that handed them out, so after a
 * restore the next create_stream would get stream_id 1 again.  Each
 * catalog with an identity column has a statement trigger
 * kinesis_glue._ids_past_rows(column) that, after an INSERT that left ids
 * above the sequence's last value (only a restore, or a superuser's COPY,
 * writes ids), sets the sequence to the largest id.
 *
 * The trigger runs as whoever inserts (the extension's functions, or the
 * restoring superuser); it reads the table and the sequence as the
 * extension owner, which owns both (kg_catalog_enter), and touches nothing
 * else.  No user code runs.
 *
 * Locking: none beyond the reads; setval is not transactional, so a
 * rolled-back restore leaves the sequence ahead (never behind).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "common/kg_catalog.h"
#include "common/kg_owner_call.h"

PG_FUNCTION_INFO_V1(kg_ids_past_rows);

/*
 * AFTER INSERT ... FOR EACH STATEMENT trigger; tgargs[0] names the
 * identity column.  Moves its sequence past the largest id in the table.
 */
Datum
kg_ids_past_rows(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	KgCatalogContext cc;
	char	   *table;
	char	   *column;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) || trigdata->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("kinesis_glue._ids_past_rows() must be an AFTER ... FOR EACH STATEMENT trigger with one argument")));
	/*
	 * Rows the extension's own functions insert take their ids from the
	 * sequence: only a restore (COPY of pg_dump's data) needs the move.
	 */
	if (kg_internal_ddl_running() || kg_owner_call_active())
		return PointerGetDatum(NULL);
	table = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(trigdata->tg_relation)),
									   RelationGetRelationName(trigdata->tg_relation));
	column = trigdata->tg_trigger->tgargs[0];

	kg_catalog_enter(&cc, false);
	kg_spi_exec(psprintf("SELECT pg_catalog.setval(s.seq, m.top) "
						 "FROM (SELECT pg_catalog.pg_get_serial_sequence(%s, %s)::pg_catalog.regclass AS seq) s, "
						 "     (SELECT pg_catalog.max(%s) AS top FROM %s) m "
						 "WHERE m.top OPERATOR(pg_catalog.>) "
						 "      COALESCE(pg_catalog.pg_sequence_last_value(s.seq), 0)",
						 quote_literal_cstr(table), quote_literal_cstr(column),
						 quote_identifier(column), table),
				0, NULL, NULL, NULL, false);
	kg_catalog_exit(&cc);
	return PointerGetDatum(NULL);
}
