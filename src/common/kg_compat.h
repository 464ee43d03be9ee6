/*-------------------------------------------------------------------------
 *
 * kg_compat.h
 *		Shims for the PostgreSQL APIs that changed between the major
 *		versions kinesis_glue builds against, in one place.
 *
 * The code is written against PostgreSQL 15.  PostgreSQL 16 replaced the
 * per-catalog privilege checks by generic ones (commits "Refactor aclcheck
 * functions" and "Refactor ownercheck functions"):
 *
 *		pg_<catalog>_ownercheck(oid, role)	 -> object_ownercheck(classid, oid, role)
 *		pg_<catalog>_aclcheck(oid, role, m)  -> object_aclcheck(classid, oid, role, m)
 *
 * except pg_class_aclcheck and pg_attribute_aclcheck, which stay; and
 * stringToQualifiedNameList gained a soft-error context argument (NULL:
 * errors are thrown as before).  On 16 and later this header maps the 15
 * names that kinesis_glue uses onto the new functions, so the call sites
 * need no #if.  Include it in every file that calls one of them, after the
 * PostgreSQL headers (it includes the ones it redefines names of first).
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_COMPAT_H
#define KG_COMPAT_H

#include "utils/acl.h"
#include "utils/regproc.h"

#if PG_VERSION_NUM >= 160000

#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"

/* ownership: one generic function keyed by the catalog */
#define pg_class_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, (relid), (roleid))
#define pg_proc_ownercheck(procid, roleid) \
	object_ownercheck(ProcedureRelationId, (procid), (roleid))
#define pg_namespace_ownercheck(nspid, roleid) \
	object_ownercheck(NamespaceRelationId, (nspid), (roleid))
#define pg_type_ownercheck(typid, roleid) \
	object_ownercheck(TypeRelationId, (typid), (roleid))

/* privileges: pg_class_aclcheck survives; the others became object_aclcheck */
#define pg_proc_aclcheck(procid, roleid, mode) \
	object_aclcheck(ProcedureRelationId, (procid), (roleid), (mode))
#define pg_namespace_aclcheck(nspid, roleid, mode) \
	object_aclcheck(NamespaceRelationId, (nspid), (roleid), (mode))
#define pg_type_aclcheck(typid, roleid, mode) \
	object_aclcheck(TypeRelationId, (typid), (roleid), (mode))
#define pg_database_aclcheck(dbid, roleid, mode) \
	object_aclcheck(DatabaseRelationId, (dbid), (roleid), (mode))

/* soft errors: NULL throws them, as in 15 (the inner name is not re-expanded) */
#define stringToQualifiedNameList(string) stringToQualifiedNameList((string), NULL)

#endif							/* PG_VERSION_NUM >= 160000 */

#endif							/* KG_COMPAT_H */
