/*-------------------------------------------------------------------------
 *
 * kg_owner_call.c
 *		Trusted procedures of the extension: the SQL functions that write
 *		its catalogs run as the extension owner, and know who called them.
 *
 * Catalog tables grant PUBLIC nothing but SELECT (README "Security model",
 * "Catalogs").  The functions that change them are SECURITY INVOKER SQL or
 * PL/pgSQL functions marked in their definition with
 *
 *		SET kinesis_glue.run_as_owner = on
 *
 * A function so marked that belongs to the kinesis_glue extension (pg_depend
 * deptype 'e'), is owned by the extension owner and is not SECURITY DEFINER
 * is entered as the extension owner through the function manager hook (the
 * mechanism sepgsql uses for trusted procedures): the user id switches at
 * FHET_START with SECURITY_LOCAL_USERID_CHANGE (so SET ROLE cannot undo it)
 * inside SECURITY_RESTRICTED_OPERATION, and is restored at FHET_END and
 * FHET_ABORT.  Unlike SECURITY DEFINER, the
 * role that called the function is kept: kinesis_glue.caller() returns the
 * role that called the run-as-owner function (or the current user when none
 * is active), and the function checks that role's rights explicitly.  A
 * run-as-owner function entered from another one (its user id is then the
 * extension owner) inherits the outer one's caller, so a check deep in the
 * call chain still names the role that made the API call.
 *
 * The marker's setting is an ordinary boolean whose value is never read;
 * only its presence in the function's proconfig counts, and only the
 * extension owner can create a function of the extension.  Without the
 * library loaded, a marked function runs as its caller and its writes fail
 * with "permission denied": the mechanism fails closed.
 *
 * Locking: none.  The caller stack is backend-local; entries are pushed at
 * FHET_START and popped at FHET_END / FHET_ABORT, and dropped at
 * (sub)transaction abort for safety.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_proc.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "common/kg_catalog.h"
#include "common/kg_owner_call.h"

PG_FUNCTION_INFO_V1(kg_caller);

bool		kg_run_as_owner_marker = false;

#define KG_MARKER_NAME "kinesis_glue.run_as_owner"
#define KG_MAX_OWNER_CALLS 256

/* One active run-as-owner call. */
typedef struct KgOwnerCall
{
	Oid			caller;			/* the role whose rights the function checks */
	Oid			save_user;		/* user id when the function was entered */
	int			save_sec_context;
	int			nest_level;		/* transaction nest level at entry */
} KgOwnerCall;

static KgOwnerCall owner_calls[KG_MAX_OWNER_CALLS];
static int	n_owner_calls = 0;

/* What the hook keeps per FmgrInfo (in flinfo->fn_mcxt). */
typedef struct KgHookState
{
	bool		ours;			/* a run-as-owner function */
	Oid			owner;			/* extension owner, when ours */
	Datum		next_private;	/* private datum of the chained hook */
} KgHookState;

static fmgr_hook_type prev_fmgr_hook = NULL;

/*
 * Does the function carry the marker in its proconfig, without being
 * SECURITY DEFINER?  Cheap: one syscache lookup.
 */
static bool
kg_has_marker(Oid fn_oid)
{
	HeapTuple	tup;
	bool		found = false;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(tup))
		return false;
	if (!((Form_pg_proc) GETSTRUCT(tup))->prosecdef)
	{
		bool		isnull;
		Datum		d = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proconfig, &isnull);

		if (!isnull)
		{
			ArrayType  *a = DatumGetArrayTypeP(d);
			Datum	   *elems;
			int			n;

			deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
			for (int i = 0; i < n && !found; i++)
			{
				char	   *s = TextDatumGetCString(elems[i]);

				found = (pg_strcasecmp(s, KG_MARKER_NAME "=on") == 0 ||
						 pg_strcasecmp(s, KG_MARKER_NAME "=true") == 0);
				pfree(s);
			}
		}
	}
	ReleaseSysCache(tup);
	return found;
}

/*
 * The extension owner when fn_oid is a run-as-owner function: marked, a
 * member of the kinesis_glue extension and owned by its owner.  InvalidOid
 * otherwise.
 */
static Oid
kg_run_as_owner_of(Oid fn_oid)
{
	Oid			ext;
	Oid			owner;
	HeapTuple	tup;
	Oid			proowner;

	if (!kg_has_marker(fn_oid))
		return InvalidOid;
	ext = get_extension_oid("kinesis_glue", true);
	if (!OidIsValid(ext) || getExtensionOfObject(ProcedureRelationId, fn_oid) != ext)
		return InvalidOid;
	owner = kg_extension_owner();
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	proowner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return proowner == owner ? owner : InvalidOid;
}

/* Pop run-as-owner calls down to depth, restoring the user of the lowest. */
static void
kg_owner_calls_pop_to(int depth, bool restore)
{
	while (n_owner_calls > depth)
	{
		n_owner_calls--;
		if (restore)
			SetUserIdAndSecContext(owner_calls[n_owner_calls].save_user,
								   owner_calls[n_owner_calls].save_sec_context);
	}
}

static void
kg_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	KgHookState *st = (KgHookState *) DatumGetPointer(*private);

	if (st == NULL)
	{
		st = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(KgHookState));
		st->owner = kg_run_as_owner_of(flinfo->fn_oid);
		st->ours = OidIsValid(st->owner);
		*private = PointerGetDatum(st);
	}

	switch (event)
	{
		case FHET_START:
			if (prev_fmgr_hook)
				(*prev_fmgr_hook) (event, flinfo, &st->next_private);
			if (st->ours)
			{
				Oid			user;
				int			sec;

				if (n_owner_calls >= KG_MAX_OWNER_CALLS)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("kinesis_glue: run-as-owner calls nested too deeply")));
				GetUserIdAndSecContext(&user, &sec);
				/* nested in another one: the role that called that one */
				owner_calls[n_owner_calls].caller =
					(n_owner_calls > 0 && user == st->owner) ?
					owner_calls[n_owner_calls - 1].caller : user;
				owner_calls[n_owner_calls].save_user = user;
				owner_calls[n_owner_calls].save_sec_context = sec;
				owner_calls[n_owner_calls].nest_level = GetCurrentTransactionNestLevel();
				n_owner_calls++;
				SetUserIdAndSecContext(st->owner, sec | SECURITY_LOCAL_USERID_CHANGE |
									   SECURITY_RESTRICTED_OPERATION);
			}
			break;
		case FHET_END:
		case FHET_ABORT:
			if (st->ours && n_owner_calls > 0)
				kg_owner_calls_pop_to(n_owner_calls - 1, true);
			if (prev_fmgr_hook)
				(*prev_fmgr_hook) (event, flinfo, &st->next_private);
			break;
		default:
			if (prev_fmgr_hook)
				(*prev_fmgr_hook) (event, flinfo, &st->next_private);
			break;
	}
}

/*
 * At (sub)transaction abort the xact machinery restores the user id; drop
 * the calls entered inside the aborted (sub)transaction.
 */
static void
kg_owner_call_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		n_owner_calls = 0;
}

static void
kg_owner_call_subxact(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		int			level = GetCurrentTransactionNestLevel();
		int			depth = n_owner_calls;

		while (depth > 0 && owner_calls[depth - 1].nest_level >= level)
			depth--;
		kg_owner_calls_pop_to(depth, false);
	}
}

/*
 * Define the marker setting and install the hook (from _PG_init).  No
 * needs_fmgr_hook: a marked function has a proconfig, so the function
 * manager already calls it through fmgr_security_definer and fmgr_hook.
 */
void
kg_owner_call_init(void)
{
	DefineCustomBoolVariable(KG_MARKER_NAME,
							 "Marks the extension's functions that run as its owner.",
							 "Only meaningful in the SET clause of the extension's own functions; the value is never read.",
							 &kg_run_as_owner_marker, false,
							 PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							 NULL, NULL, NULL);
	prev_fmgr_hook = fmgr_hook;
	fmgr_hook = kg_fmgr_hook;
	RegisterXactCallback(kg_owner_call_xact, NULL);
	RegisterSubXactCallback(kg_owner_call_subxact, NULL);
}

/* Is a run-as-owner function executing in this backend? */
bool
kg_owner_call_active(void)
{
	return n_owner_calls > 0;
}

/* The role that called the active run-as-owner function(s). */
Oid
kg_owner_call_caller(void)
{
	return n_owner_calls > 0 ? owner_calls[n_owner_calls - 1].caller : GetUserId();
}

/*
 * kinesis_glue.caller() RETURNS regrole: the role that called the active
 * run-as-owner function(s), else the current user.
 */
Datum
kg_caller(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(kg_owner_call_caller());
}
