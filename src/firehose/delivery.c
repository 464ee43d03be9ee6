/*-------------------------------------------------------------------------
 *
 * delivery.c
 *		The worker task that delivers Firehose delivery streams: for each
 *		enabled delivery stream it calls firehose._deliver(id, false) as the
 *		stream's owner, in a security-restricted context, one transaction per
 *		batch, until nothing is due.  The batch, the destination rows and the
 *		consumer checkpoint commit together (exactly once into tables).
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
	int32		taken;			/* out: records taken by the last batch */
} KgDelivery;

/* Transaction body: list the enabled delivery streams into a List of KgDelivery. */
static void
kg_list_deliveries(void *arg)
{
	List	  **out = (List **) arg;
	KgCatalogContext cc;
	int			n;

	kg_catalog_enter(&cc, false);
	n = kg_spi_exec("SELECT delivery_stream_id, owner::oid FROM firehose.delivery_streams WHERE enabled "
					"ORDER BY delivery_stream_id", 0, NULL, NULL, NULL, true);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		KgDelivery *d = MemoryContextAllocZero(TopMemoryContext, sizeof(KgDelivery));
		MemoryContext old;

		d->id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		d->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		old = MemoryContextSwitchTo(TopMemoryContext);
		*out = lappend(*out, d);
		MemoryContextSwitchTo(old);
	}
	kg_catalog_exit(&cc);
}

/* Transaction body: one batch of one delivery stream, as its owner. */
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
	if (kg_spi_exec("SELECT firehose._deliver($1, false)", 1, (Oid[]) {INT4OID},
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
