/*-------------------------------------------------------------------------
 *
 * delivery.c
 *		The worker task that delivers Firehose delivery streams: for each
 *		enabled delivery stream it calls firehose._deliver(id, false) as the
 *		stream's owner, in a security-restricted context, one transaction per
 *		batch, until nothing is due.  The batch, the destination rows and the
 *		consumer checkpoint commit together (exactly once into tables and
 *		files).  When the worker starts it first finishes the objects of file
 *		destinations that a crash left under temporary names (objects.c).
 *
 * Locking: none of its own; a failing delivery stream is logged and the
 * others go on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "common/kg_catalog.h"
#include "firehose/firehose.h"
#include "worker/kg_worker.h"

#define KG_FIREHOSE_BATCHES_PER_ROUND 20

typedef struct KgDelivery
{
	int32		id;
	Oid			owner;
	const char *sql;			/* run as owner with $1 = id */
	int32		taken;			/* out: the integer the SQL returned */
} KgDelivery;

/* Have the file destinations' crash leftovers been recovered in this worker? */
static bool objects_recovered = false;

/*
 * Transaction body: list the delivery streams into a List of KgDelivery,
 * the enabled ones to deliver, or (when the objects are not yet recovered)
 * the file destinations to recover.
 */
static void
kg_list_deliveries(void *arg)
{
	List	  **out = (List **) arg;
	KgCatalogContext cc;
	int			n;
	const char *sql;

	kg_catalog_enter(&cc, false);
	if (!objects_recovered)
		n = kg_spi_exec("SELECT delivery_stream_id, owner::oid FROM firehose.delivery_streams "
						"WHERE destination_type = 'files' ORDER BY delivery_stream_id",
						0, NULL, NULL, NULL, true);
	else
		n = kg_spi_exec("SELECT delivery_stream_id, owner::oid FROM firehose.delivery_streams WHERE enabled "
						"ORDER BY delivery_stream_id", 0, NULL, NULL, NULL, true);
	sql = objects_recovered ? "SELECT firehose._deliver($1, false)" :
		"SELECT firehose._recover_objects(delivery_stream_id, destination_directory) "
		"FROM firehose.delivery_streams WHERE delivery_stream_id = $1";
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		KgDelivery *d = MemoryContextAllocZero(TopMemoryContext, sizeof(KgDelivery));
		MemoryContext old;

		d->id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		d->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		d->sql = sql;
		old = MemoryContextSwitchTo(TopMemoryContext);
		*out = lappend(*out, d);
		MemoryContextSwitchTo(old);
	}
	kg_catalog_exit(&cc);
}

/* Transaction body: one batch (or the recovery) of one delivery stream, as its owner. */
static void
kg_deliver_batch(void *arg)
{
	KgDelivery *d = (KgDelivery *) arg;
	Oid			save_user;
	int			save_sec;

	d->taken = 0;
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(d->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to the SPI manager");
	if (kg_spi_exec(d->sql, 1, (Oid[]) {INT4OID},
					(Datum[]) {Int32GetDatum(d->id)}, NULL, false) == 1)
	{
		bool		isnull;
		Datum		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		d->taken = isnull ? 0 : DatumGetInt32(v);
	}
	SPI_finish();
	SetUserIdAndSecContext(save_user, save_sec);
}

/* Worker task: deliver what is due in every enabled delivery stream. */
void
kg_firehose_delivery(void)
{
	List	   *deliveries = NIL;
	ListCell   *lc;

	if (!objects_recovered)
	{
		/* once per worker: a failure is logged and not retried */
		if (kg_run_in_transaction("kinesis_glue: list file destinations", kg_list_deliveries, &deliveries))
		{
			foreach(lc, deliveries)
				(void) kg_run_in_transaction("kinesis_glue: recover firehose objects", kg_deliver_batch,
											 lfirst(lc));
			list_free_deep(deliveries);
			deliveries = NIL;
		}
		objects_recovered = true;
	}
	if (!kg_run_in_transaction("kinesis_glue: list delivery streams", kg_list_deliveries, &deliveries))
		return;
	foreach(lc, deliveries)
	{
		KgDelivery *d = lfirst(lc);

		for (int i = 0; i < KG_FIREHOSE_BATCHES_PER_ROUND; i++)
		{
			if (!kg_run_in_transaction("kinesis_glue: firehose delivery", kg_deliver_batch, d) ||
				d->taken == 0)
				break;
			CHECK_FOR_INTERRUPTS();
		}
	}
	list_free_deep(deliveries);
}
