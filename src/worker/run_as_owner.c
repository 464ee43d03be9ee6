/*-------------------------------------------------------------------------
 *
 * run_as_owner.c
 *		kg_run_as_owner(): the one way the runtime runs user code: one SQL
 *		statement as a given owner, inside SECURITY_RESTRICTED_OPERATION,
 *		in a transaction (or a subtransaction of the current one), under a
 *		statement timeout, with the error caught and reported to the
 *		caller.
 *
 * In a runner worker the timeout is also published as the runner's
 * deadline (kg_runner_set_deadline), so that the supervisor cancels the
 * call, and terminates the runner after kinesis_glue.runner_grace when the
 * user code catches the cancel and goes on.
 *
 * Locking: none of its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"

#include "worker/kg_runner.h"

/*
 * Run call->sql with call->args as call->owner, security-restricted, under
 * call->timeout_ms.  With own_transaction, in a transaction of its own
 * (the caller must be outside one) that commits on success; otherwise in a
 * subtransaction of the caller's, released on success.  call->on_result,
 * if set, reads SPI_tuptable before SPI is closed.  Returns true on
 * success; false with call->sqlerrcode and call->error (allocated in the
 * caller's memory context) when the statement raised, its effects rolled
 * back.  The user, security context, timeout and memory context are the
 * caller's again in both cases.
 */
bool
kg_run_as_owner(KgOwnerCall *call)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Oid			save_user;
	int			save_sec;
	volatile bool ok = true;

	call->sqlerrcode = 0;
	call->error = NULL;
	if (call->own_transaction)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, call->sql);
	}
	else
		BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	GetUserIdAndSecContext(&save_user, &save_sec);
	PG_TRY();
	{
		int			rc;

		SetUserIdAndSecContext(call->owner,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		if (call->timeout_ms > 0)
		{
			enable_timeout_after(STATEMENT_TIMEOUT, (int) Min(call->timeout_ms, INT_MAX));
			kg_runner_set_deadline(call->timeout_ms);
		}
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "could not connect to the SPI manager");
		rc = SPI_execute_with_args(call->sql, call->nargs, call->argtypes, call->args, call->nulls, false, 0);
		if (rc < 0)
			elog(ERROR, "could not run \"%s\": %s", call->sql, SPI_result_code_string(rc));
		if (call->on_result)
			call->on_result(call->arg);
		SPI_finish();
		if (call->timeout_ms > 0)
		{
			disable_timeout(STATEMENT_TIMEOUT, false);
			kg_runner_set_deadline(0);
		}
		SetUserIdAndSecContext(save_user, save_sec);
		if (call->own_transaction)
		{
			PopActiveSnapshot();
			CommitTransactionCommand();
		}
		else
		{
			ReleaseCurrentSubTransaction();
			CurrentResourceOwner = owner;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		if (call->timeout_ms > 0)
			disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (call->own_transaction)
			AbortCurrentTransaction();
		else
		{
			RollbackAndReleaseCurrentSubTransaction();
			CurrentResourceOwner = owner;
		}
		MemoryContextSwitchTo(cxt);
		SetUserIdAndSecContext(save_user, save_sec);
		/* a cancel that arrived after the error must not hit the caller */
		QueryCancelPending = false;
		if (call->timeout_ms > 0)
			kg_runner_set_deadline(0);
		call->sqlerrcode = edata->sqlerrcode;
		call->error = pstrdup(edata->message);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	if (call->own_transaction)
		pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}
