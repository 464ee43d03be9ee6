/*-------------------------------------------------------------------------
 *
 * trigger_cron.c
 *		Schedules of SCHEDULED triggers when pg_cron lives in another
 *		database (the one named by cron.database_name).
 *
 * When pg_cron is installed in this database, triggers.sql creates,
 * changes and removes each trigger's pg_cron job in the same transaction
 * as the trigger.  A backend cannot write another database, so otherwise
 * the database worker reconciles: each round it reads the wanted
 * schedules (glue._cron_wanted(): one line per ACTIVATED SCHEDULED trigger,
 * committed state only), and when they differ from what it last applied,
 * it wants a short-lived runner ("kinesis_glue cron sync", kind "cron
 * sync" of the shared runner registry, worker/kg_runner.h, so it counts
 * against the runner caps and shows in kinesis_glue.runners) that connects
 * to the pg_cron database.  That runner, in one transaction, removes the
 * "glue trigger: ..." jobs of this database and schedules the wanted ones
 * with cron.schedule_in_database(..., database, username), so pg_cron runs
 * glue._fire_trigger here as the trigger's owner.  The registry's reap
 * callback collects the outcome; a failed sync is retried 30 s later.
 *
 * The wanted jobs travel in a DSM segment as structured values, never as
 * text to split: per job a fixed entry with the owner's role oid and the
 * lengths of the trigger name and of the schedule, then those bytes.  The
 * segment's handle is the runner's generation (a new list of jobs is a new
 * generation).  The schedule was rendered by the strict parser
 * (glue._cron_expression) from the catalog row just read, and the sync
 * runner checks it again (only digits, "*", "-", "/", "," and four single
 * spaces), resolves the role by oid, and builds the job name and the
 * command itself (the name quoted as a literal); every value reaches
 * pg_cron as a bound parameter.  The runner writes its outcome into the
 * segment.
 *
 * Locking: none; the DSM segment has one writer at a time (the sync runner
 * writes only the outcome flag, after the supervisor stopped writing).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include <ctype.h>
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "glue/jobs.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

typedef struct KgCronSync
{
	char		cron_db[NAMEDATALEN];
	char		our_db[NAMEDATALEN];
	volatile int outcome;		/* 0 running, 1 done, -1 failed */
	int			njobs;
	int			len;			/* bytes used in jobs[] */
	char		jobs[FLEXIBLE_ARRAY_MEMBER];	/* KgCronJob entries, each followed by its bytes */
} KgCronSync;

/* One wanted job in KgCronSync.jobs: name_len + schedule_len bytes follow. */
typedef struct KgCronJob
{
	Oid			owner;			/* the trigger's owner: pg_cron's username */
	int32		name_len;		/* the trigger's name */
	int32		schedule_len;	/* pg_cron schedule from the strict parser */
} KgCronJob;

static void kg_cron_reap(const KgRunnerInfo *info, const char *reason);

static const KgRunnerKind cron_sync_runner = {
	.name = "cron sync",
	.function_name = "kg_glue_cron_sync_main",
	.bgw_type = "kinesis_glue cron sync",
	.restart = false,
	.reap = kg_cron_reap,
};

/* supervisor state (the per-database worker) */
static uint32 applied_hash = 0;
static bool applied = false;
static dsm_segment *sync_seg = NULL;	/* the jobs of the sync in flight */
static uint32 sync_hash = 0;
static TimestampTz last_failure = 0;

typedef struct KgCronWanted
{
	MemoryContext cxt;			/* the caller's: what is read outlives the transaction */
	char	   *cron_db;		/* NULL: nothing to do here */
	char	   *our_db;
	int			njobs;
	StringInfo	jobs;			/* KgCronJob entries and their bytes */
} KgCronWanted;

/* Transaction body: read the wanted schedules (as the extension owner) into *w. */
static void
kg_cron_wanted_txn(void *arg)
{
	KgCronWanted *w = (KgCronWanted *) arg;
	KgCatalogContext cc;
	bool		isnull;
	Datum		d;
	MemoryContext old;
	int			n;

	kg_catalog_enter(&cc, false);
	if (kg_spi_exec("SELECT glue._remote_cron(), pg_catalog.current_database()::text",
					0, NULL, NULL, NULL, true) == 1)
	{
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
		{
			w->cron_db = MemoryContextStrdup(w->cxt, TextDatumGetCString(d));
			w->our_db = MemoryContextStrdup(w->cxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
		}
	}
	if (w->cron_db != NULL)
	{
		n = kg_spi_exec("SELECT trigger_name, schedule, owner FROM glue._cron_wanted()",
						0, NULL, NULL, NULL, true);
		old = MemoryContextSwitchTo(w->cxt);
		w->jobs = makeStringInfo();
		MemoryContextSwitchTo(old);
		for (int i = 0; i < n; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			char	   *name = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
			char	   *schedule = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
			KgCronJob	job;

			job.owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
			job.name_len = strlen(name);
			job.schedule_len = strlen(schedule);
			old = MemoryContextSwitchTo(w->cxt);
			appendBinaryStringInfo(w->jobs, (char *) &job, sizeof(job));
			appendBinaryStringInfo(w->jobs, name, job.name_len);
			appendBinaryStringInfo(w->jobs, schedule, job.schedule_len);
			MemoryContextSwitchTo(old);
			w->njobs++;
		}
	}
	kg_catalog_exit(&cc);
}

/*
 * Reap callback (in a transaction, in the supervisor): the sync runner of
 * our segment exited; record its outcome and let the segment go.  A runner
 * of another segment (one a previous incarnation of this worker started)
 * is ignored: the next round compares again.
 */
static void
kg_cron_reap(const KgRunnerInfo *info, const char *reason)
{
	KgCronSync *s;

	if (sync_seg == NULL || (dsm_handle) (uint32) info->generation != dsm_segment_handle(sync_seg))
		return;
	s = (KgCronSync *) dsm_segment_address(sync_seg);
	if (s->outcome == 1)
	{
		applied_hash = sync_hash;
		applied = true;
	}
	else
		last_failure = GetCurrentTimestamp();	/* the runner logged why */
	dsm_detach(sync_seg);
	sync_seg = NULL;
}

/*
 * Read the wanted schedules; when they differ from what was last applied
 * (and no failure is recent), put them into a new segment (sync_seg) for a
 * sync runner.
 */
static void
kg_cron_prepare_sync(void)
{
	KgCronWanted w = {CurrentMemoryContext, NULL, NULL, 0, NULL};
	KgCronSync *s;
	uint32		h;

	if (!kg_run_in_transaction("kinesis_glue: wanted trigger schedules", kg_cron_wanted_txn, &w) ||
		w.cron_db == NULL)
		return;
	h = hash_bytes((const unsigned char *) w.jobs->data, w.jobs->len);
	if (applied && h == applied_hash)
		return;
	/* after a failed sync (logged by the sync runner), wait before the next */
	if (!TimestampDifferenceExceeds(last_failure, GetCurrentTimestamp(), 30 * 1000))
		return;
	sync_seg = dsm_create(offsetof(KgCronSync, jobs) + w.jobs->len + 1, DSM_CREATE_NULL_IF_MAXSEGMENTS);
	if (sync_seg == NULL)
		return;
	dsm_pin_mapping(sync_seg);
	s = (KgCronSync *) dsm_segment_address(sync_seg);
	strlcpy(s->cron_db, w.cron_db, NAMEDATALEN);
	strlcpy(s->our_db, w.our_db, NAMEDATALEN);
	s->outcome = 0;
	s->njobs = w.njobs;
	s->len = w.jobs->len;
	memcpy(s->jobs, w.jobs->data, s->len);
	sync_hash = h;
}

/*
 * Worker task: reconcile the remote pg_cron jobs of this database's
 * triggers.  A sync in flight is wanted until it has been reaped; the
 * registry launches it within the runner caps.
 */
void
kg_glue_cron_sync(void)
{
	kg_runner_round_begin(&cron_sync_runner);
	if (sync_seg == NULL)
		kg_cron_prepare_sync();
	if (sync_seg != NULL)
		(void) kg_runner_want(&cron_sync_runner, 0, 0, (int32) dsm_segment_handle(sync_seg),
							  BOOTSTRAP_SUPERUSERID);
	kg_runner_round_end(&cron_sync_runner, false);
}

/*
 * Is s what the strict schedule parser produces: five fields of digits,
 * "*", "-", "/" and ",", separated by single spaces?
 */
static bool
kg_cron_schedule_ok(const char *s, int len)
{
	int			spaces = 0;

	if (len == 0 || len > 256 || s[0] == ' ' || s[len - 1] == ' ')
		return false;
	for (int i = 0; i < len; i++)
	{
		if (s[i] == ' ')
		{
			if (s[i - 1] == ' ')
				return false;
			spaces++;
		}
		else if (!isdigit((unsigned char) s[i]) && strchr("*-/,", s[i]) == NULL)
			return false;
	}
	return spaces == 4;
}

/*
 * The next job of s->jobs at *off (advanced past it), its bytes checked
 * against the segment's bounds: raises when the list is malformed.
 */
static void
kg_cron_next_job(KgCronSync *s, int *off, KgCronJob *job, char **name, char **schedule)
{
	if (*off + (int) sizeof(*job) > s->len)
		elog(ERROR, "malformed list of wanted pg_cron jobs");
	memcpy(job, s->jobs + *off, sizeof(*job));
	*off += sizeof(*job);
	if (job->name_len < 1 || job->schedule_len < 1 ||
		job->name_len > s->len - *off || job->schedule_len > s->len - *off - job->name_len)
		elog(ERROR, "malformed list of wanted pg_cron jobs");
	*name = pnstrdup(s->jobs + *off, job->name_len);
	*off += job->name_len;
	*schedule = pnstrdup(s->jobs + *off, job->schedule_len);
	*off += job->schedule_len;
}

/*
 * Transaction body of the sync runner, in the pg_cron database: replace
 * this database's "glue trigger: ..." jobs by the wanted ones (arg: the
 * segment).  Raises when pg_cron refuses; nothing is changed then.
 */
static void
kg_cron_apply(void *arg)
{
	KgCronSync *s = (KgCronSync *) arg;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to the SPI manager");
	if (SPI_execute_with_args("SELECT cron.unschedule(jobid) FROM cron.job "
							  "WHERE database OPERATOR(pg_catalog.=) $1 AND jobname LIKE 'glue trigger: %'",
							  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(s->our_db)},
							  NULL, false, 0) < 0)
		elog(ERROR, "could not remove the pg_cron jobs of database \"%s\"", s->our_db);
	for (int i = 0, off = 0; i < s->njobs; i++)
	{
		KgCronJob	job;
		char	   *name;
		char	   *schedule;
		char	   *user;
		Datum		v[5];

		kg_cron_next_job(s, &off, &job, &name, &schedule);
		/* re-validated before it is acted on */
		if (strlen(name) != job.name_len || !kg_cron_schedule_ok(schedule, job.schedule_len))
		{
			ereport(WARNING,
					(errmsg("kinesis_glue: trigger \"%s\" is not scheduled: invalid schedule \"%s\"",
							name, schedule)));
			continue;
		}
		user = GetUserNameFromId(job.owner, true);
		if (user == NULL)
			continue;			/* the owner is gone: no job */
		v[0] = CStringGetTextDatum(psprintf("glue trigger: %s", name));
		v[1] = CStringGetTextDatum(schedule);
		v[2] = CStringGetTextDatum(psprintf("SELECT glue._fire_trigger(%s)", quote_literal_cstr(name)));
		v[3] = CStringGetTextDatum(s->our_db);
		v[4] = CStringGetTextDatum(user);
		if (SPI_execute_with_args("SELECT cron.schedule_in_database($1, $2, $3, $4, $5)",
								  5, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID}, v,
								  NULL, false, 0) < 0)
			elog(ERROR, "could not schedule trigger \"%s\" with pg_cron", name);
	}
	SPI_finish();
}

/*
 * Entry point of the sync runner (bgw_extra holds its KgRunnerInfo; its
 * generation is the handle of the segment with the wanted jobs): attach to
 * the registry, connect to the pg_cron database, apply the jobs in one
 * transaction (an error is logged and rolled back) and write the outcome
 * into the segment for the supervisor's reap callback.
 */
void
kg_glue_cron_sync_main(Datum main_arg)
{
	KgRunnerInfo info;
	dsm_segment *seg;
	KgCronSync *s;

	kg_runner_begin(&info);
	CurrentResourceOwner = ResourceOwnerCreate(NULL, "kinesis_glue cron sync");
	seg = dsm_attach((dsm_handle) (uint32) info.generation);
	if (seg == NULL)
		proc_exit(0);			/* its supervisor let the segment go */
	s = (KgCronSync *) dsm_segment_address(seg);
	BackgroundWorkerInitializeConnection(s->cron_db, NULL, 0);
	pgstat_report_appname(MyBgworkerEntry->bgw_type);
	if (kg_run_in_transaction("kinesis_glue: apply trigger schedules to pg_cron", kg_cron_apply, s))
		s->outcome = 1;
	proc_exit(0);
}
