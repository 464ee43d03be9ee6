/*-------------------------------------------------------------------------
 *
 * esm_catalog.c
 *		The SQL surface of event source mappings: create, update (enable,
 *		disable) and delete.  The runners are in esm_runner.c.
 *
 * Privileges: the creator becomes the mapping's owner and must be able to
 * read the stream, execute the function and write the failure
 * destination; the runner calls the function as the owner, never with more
 * rights.  Only the owner (or a member of its role) changes or deletes a
 * mapping.  Every change bumps the mapping's generation, which restarts
 * its runners.
 *
 * Locking: row lock on the mapping row while changing it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "common/kg_catalog.h"
#include "common/kg_compat.h"
#include "common/kg_errors.h"
#include "common/kg_shmem.h"
#include "streams/esm.h"
#include "streams/read.h"
#include "streams/stream_cache.h"

/* OID of the type kinesis.record[]. */
Oid
kg_record_array_type(void)
{
	Oid			nsp = get_namespace_oid("kinesis", false);
	Oid			typ = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									  CStringGetDatum("record"), ObjectIdGetDatum(nsp));

	return get_array_type(typ);
}

/* The function must take exactly one kinesis.record[] and be executable by the caller. */
static void
kg_check_mapping_function(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Form_pg_proc proc;
	bool		ok;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: function %u does not exist", fn)));
	proc = (Form_pg_proc) GETSTRUCT(tup);
	ok = proc->pronargs == 1 && proc->proargtypes.values[0] == kg_record_array_type() &&
		proc->prokind == PROKIND_FUNCTION;
	ReleaseSysCache(tup);
	if (!ok)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: function %s must take one argument of type kinesis.record[]",
						format_procedure(fn)),
				 errhint("It may return void, or bigint: the sequence number of the first record that failed.")));
	if (pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(KG_ACCESS_DENIED),
				 errmsg("AccessDeniedException: permission denied for function %s", format_procedure(fn))));
}

/*
 * Normalise and check a failure destination: "stream:<name>", "table:<name>"
 * or a bare name (a stream if one has that name, else a table).  The caller
 * must be able to write it.  Returns the normalised text.
 */
char *
kg_check_failure_destination(const char *dest)
{
	const char *name = dest;
	bool		is_stream;

	if (strncmp(dest, "stream:", 7) == 0)
	{
		name = dest + 7;
		is_stream = true;
	}
	else if (strncmp(dest, "table:", 6) == 0)
	{
		name = dest + 6;
		is_stream = false;
	}
	else
		is_stream = kg_stream_get(dest, true) != NULL;

	if (is_stream)
	{
		KgStream   *s = kg_stream_get(name, false);

		if (pg_class_aclcheck(s->record_table, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(KG_ACCESS_DENIED),
					 errmsg("AccessDeniedException: permission denied to put records to failure destination stream \"%s\"", name)));
		return psprintf("stream:%s", name);
	}
	else
	{
		List	   *names = stringToQualifiedNameList(name);
		Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);

		if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
			ereport(ERROR,
					(errcode(KG_RESOURCE_NOT_FOUND),
					 errmsg("ResourceNotFoundException: failure destination \"%s\" is neither a stream nor a table", dest),
					 errhint("Name a stream (stream:<name>) or a table (table:<schema.table>) with a jsonb column named \"details\" or columns named like its keys.")));
		if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(KG_ACCESS_DENIED),
					 errmsg("AccessDeniedException: permission denied to insert into failure destination table \"%s\"", name)));
		return psprintf("table:%s", quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
															   get_rel_name(relid)));
	}
}

static void
kg_check_mapping_numbers(int batch_size, Interval *window, int parallel, int retries, Interval *max_age)
{
	if (batch_size < 1 || batch_size > 10000)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: batch size must be between 1 and 10000")));
	if (window && (kg_interval_usecs(window) < 0 || kg_interval_usecs(window) > 300 * USECS_PER_SEC))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: maximum batching window must be between 0 and 300 seconds")));
	if (parallel < 1 || parallel > 10)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: parallelization factor must be between 1 and 10")));
	if (retries < -1 || retries > 10000)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: maximum retry attempts must be -1 (no limit) or between 0 and 10000")));
	if (max_age && (kg_interval_usecs(max_age) < 60 * USECS_PER_SEC ||
					kg_interval_usecs(max_age) > 7 * USECS_PER_DAY))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: maximum record age must be between 60 seconds and 7 days, or NULL for no limit")));
}

PG_FUNCTION_INFO_V1(kg_create_event_source_mapping);

/*
 * kinesis.create_event_source_mapping(stream_name, function_name, batch_size,
 * maximum_batching_window, starting_position, starting_position_timestamp,
 * parallelization_factor, maximum_retry_attempts, maximum_record_age,
 * bisect_batch_on_function_error, on_failure_destination) -> mapping id
 */
Datum
kg_create_event_source_mapping(PG_FUNCTION_ARGS)
{
	KgStream   *s;
	Oid			fn;
	int			batch_size = PG_ARGISNULL(2) ? 100 : PG_GETARG_INT32(2);
	Interval	zero = {0, 0, 0};
	Interval   *window = PG_ARGISNULL(3) ? &zero : PG_GETARG_INTERVAL_P(3);
	char	   *position = PG_ARGISNULL(4) ? "LATEST" : text_to_cstring(PG_GETARG_TEXT_PP(4));
	int			parallel = PG_ARGISNULL(6) ? 1 : PG_GETARG_INT32(6);
	int			retries = PG_ARGISNULL(7) ? -1 : PG_GETARG_INT32(7);
	Interval   *max_age = PG_ARGISNULL(8) ? NULL : PG_GETARG_INTERVAL_P(8);
	bool		bisect = PG_ARGISNULL(9) ? false : PG_GETARG_BOOL(9);
	char	   *dest = PG_ARGISNULL(10) ? NULL : kg_check_failure_destination(text_to_cstring(PG_GETARG_TEXT_PP(10)));
	KgCatalogContext cc;
	int64		id;
	int64	   *start;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: stream name and function name must not be null")));
	kg_check_mapping_numbers(batch_size, window, parallel, retries, max_age);
	kg_check_starting_position(position, !PG_ARGISNULL(5));
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	kg_check_read_privilege(s);
	fn = PG_GETARG_OID(1);
	kg_check_mapping_function(fn);
	PreventCommandIfReadOnly("kinesis.create_event_source_mapping()");

	start = kg_start_positions(s, position, PG_ARGISNULL(5) ? 0 : PG_GETARG_TIMESTAMPTZ(5));

	kg_catalog_enter(&cc, false);
	kg_spi_exec("INSERT INTO kinesis.event_source_mappings (stream_id, function_name, owner, batch_size, "
				"maximum_batching_window, starting_position, starting_position_timestamp, parallelization_factor, "
				"maximum_retry_attempts, maximum_record_age, bisect_batch_on_function_error, on_failure_destination) "
				"VALUES ($1, $2::pg_catalog.regprocedure::pg_catalog.text, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
				"RETURNING mapping_id",
				12, (Oid[]) {INT4OID, OIDOID, OIDOID, INT4OID, INTERVALOID, TEXTOID, TIMESTAMPTZOID, INT4OID,
					INT4OID, INTERVALOID, BOOLOID, TEXTOID},
				(Datum[]) {Int32GetDatum(s->stream_id), ObjectIdGetDatum(fn), ObjectIdGetDatum(cc.save_userid),
						   Int32GetDatum(batch_size), IntervalPGetDatum(window), CStringGetTextDatum(position),
						   PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5), Int32GetDatum(parallel),
						   Int32GetDatum(retries), max_age ? IntervalPGetDatum(max_age) : (Datum) 0,
						   BoolGetDatum(bisect), dest ? CStringGetTextDatum(dest) : (Datum) 0},
				psprintf("      %c  %c %c", PG_ARGISNULL(5) ? 'n' : ' ', max_age ? ' ' : 'n', dest ? ' ' : 'n'),
				false);
	{
		bool		isnull;

		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	for (int i = 0; i < s->nshards; i++)
	{
		KgShard    *sh = &s->shards[i];

		if (kg_shard_expired(s, sh))
			continue;
		for (int slot = 0; slot < parallel; slot++)
			kg_spi_exec("INSERT INTO kinesis.event_source_mapping_shards (mapping_id, shard_index, slot, checkpoint, finished) "
						"VALUES ($1, $2, $3, $4, $5)",
						5, (Oid[]) {INT8OID, INT4OID, INT4OID, INT8OID, BOOLOID},
						(Datum[]) {Int64GetDatum(id), Int32GetDatum(sh->shard_index), Int32GetDatum(slot),
								   Int64GetDatum(start[i]), BoolGetDatum(sh->closed && start[i] >= sh->ending_seq)},
						NULL, false);
	}
	kg_catalog_exit(&cc);
	kg_wake_worker(MyDatabaseId);
	PG_RETURN_INT64(id);
}

/* Lock a mapping row; AccessDeniedException unless the caller owns it. */
static void
kg_lock_own_mapping(int64 id)
{
	KgCatalogContext cc;
	Oid			owner = InvalidOid;
	int			n;

	kg_catalog_enter(&cc, false);
	n = kg_spi_exec("SELECT owner::oid FROM kinesis.event_source_mappings WHERE mapping_id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL, false);
	if (n > 0)
	{
		bool		isnull;

		owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	kg_catalog_exit(&cc);
	if (n == 0)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: event source mapping %lld does not exist", (long long) id)));
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(KG_ACCESS_DENIED),
				 errmsg("AccessDeniedException: must be owner of event source mapping %lld", (long long) id)));
}

PG_FUNCTION_INFO_V1(kg_update_event_source_mapping);

/*
 * kinesis.update_event_source_mapping(mapping_id, function_name, batch_size,
 * maximum_batching_window, parallelization_factor, maximum_retry_attempts,
 * maximum_record_age, bisect_batch_on_function_error,
 * on_failure_destination, enabled): NULL leaves a setting as it is.
 */
Datum
kg_update_event_source_mapping(PG_FUNCTION_ARGS)
{
	int64		id;
	KgCatalogContext cc;
	char	   *dest = NULL;
	int			cur_parallel;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: mapping id must not be null")));
	id = PG_GETARG_INT64(0);
	kg_lock_own_mapping(id);
	PreventCommandIfReadOnly("kinesis.update_event_source_mapping()");
	if (!PG_ARGISNULL(1))
		kg_check_mapping_function(PG_GETARG_OID(1));
	kg_check_mapping_numbers(PG_ARGISNULL(2) ? 1 : PG_GETARG_INT32(2),
							 PG_ARGISNULL(3) ? NULL : PG_GETARG_INTERVAL_P(3),
							 PG_ARGISNULL(4) ? 1 : PG_GETARG_INT32(4),
							 PG_ARGISNULL(5) ? 0 : PG_GETARG_INT32(5),
							 PG_ARGISNULL(6) ? NULL : PG_GETARG_INTERVAL_P(6));
	if (!PG_ARGISNULL(8))
		dest = kg_check_failure_destination(text_to_cstring(PG_GETARG_TEXT_PP(8)));

	kg_catalog_enter(&cc, false);
	kg_spi_exec("SELECT parallelization_factor FROM kinesis.event_source_mappings WHERE mapping_id OPERATOR(pg_catalog.=) $1",
				1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL, false);
	{
		bool		isnull;

		cur_parallel = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (!PG_ARGISNULL(4) && PG_GETARG_INT32(4) != cur_parallel)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: the parallelization factor of a mapping cannot change"),
				 errdetail("Records are divided among slots by partition key; another factor would mix the slots' positions."),
				 errhint("Delete the mapping and create a new one.")));
	kg_spi_exec("UPDATE kinesis.event_source_mappings SET "
				"function_name = coalesce($2::pg_catalog.regprocedure::pg_catalog.text, function_name), batch_size = coalesce($3, batch_size), "
				"maximum_batching_window = coalesce($4, maximum_batching_window), "
				"maximum_retry_attempts = coalesce($5, maximum_retry_attempts), "
				"maximum_record_age = coalesce($6, maximum_record_age), "
				"bisect_batch_on_function_error = coalesce($7, bisect_batch_on_function_error), "
				"on_failure_destination = coalesce($8, on_failure_destination), "
				"enabled = coalesce($9, enabled), generation = generation OPERATOR(pg_catalog.+) 1, "
				"updated_at = pg_catalog.clock_timestamp() WHERE mapping_id OPERATOR(pg_catalog.=) $1",
				9, (Oid[]) {INT8OID, OIDOID, INT4OID, INTERVALOID, INT4OID, INTERVALOID, BOOLOID, TEXTOID, BOOLOID},
				(Datum[]) {Int64GetDatum(id), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2), PG_GETARG_DATUM(3),
						   PG_GETARG_DATUM(5), PG_GETARG_DATUM(6), PG_GETARG_DATUM(7),
						   dest ? CStringGetTextDatum(dest) : (Datum) 0, PG_GETARG_DATUM(9)},
				psprintf(" %c%c%c%c%c%c%c%c", PG_ARGISNULL(1) ? 'n' : ' ', PG_ARGISNULL(2) ? 'n' : ' ',
						 PG_ARGISNULL(3) ? 'n' : ' ', PG_ARGISNULL(5) ? 'n' : ' ', PG_ARGISNULL(6) ? 'n' : ' ',
						 PG_ARGISNULL(7) ? 'n' : ' ', dest ? ' ' : 'n', PG_ARGISNULL(9) ? 'n' : ' '),
				false);
	kg_catalog_exit(&cc);
	kg_wake_worker(MyDatabaseId);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(kg_delete_event_source_mapping);

/* kinesis.delete_event_source_mapping(mapping_id) */
Datum
kg_delete_event_source_mapping(PG_FUNCTION_ARGS)
{
	int64		id;
	KgCatalogContext cc;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(KG_INVALID_ARGUMENT),
						errmsg("ValidationException: mapping id must not be null")));
	id = PG_GETARG_INT64(0);
	kg_lock_own_mapping(id);
	PreventCommandIfReadOnly("kinesis.delete_event_source_mapping()");
	kg_catalog_enter(&cc, false);
	kg_spi_exec("DELETE FROM kinesis.event_source_mappings WHERE mapping_id OPERATOR(pg_catalog.=) $1",
				1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL, false);
	kg_catalog_exit(&cc);
	kg_wake_worker(MyDatabaseId);
	PG_RETURN_VOID();
}
