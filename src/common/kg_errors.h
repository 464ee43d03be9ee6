/*-------------------------------------------------------------------------
 *
 * kg_errors.h
 *		Error reporting conventions shared by every component.
 *
 * Messages start with the Kinesis / Glue error name so users can search
 * them; the SQLSTATE is PostgreSQL's (see DESIGN.md).  These macros only
 * fix the (name, SQLSTATE) pairs; callers supply errmsg arguments.
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_ERRORS_H
#define KG_ERRORS_H

#include "utils/elog.h"

#define KG_RESOURCE_NOT_FOUND	ERRCODE_UNDEFINED_OBJECT
#define KG_RESOURCE_IN_USE		ERRCODE_OBJECT_IN_USE
#define KG_INVALID_ARGUMENT		ERRCODE_INVALID_PARAMETER_VALUE
#define KG_LIMIT_EXCEEDED		ERRCODE_PROGRAM_LIMIT_EXCEEDED
#define KG_THROUGHPUT_EXCEEDED	ERRCODE_CONFIGURATION_LIMIT_EXCEEDED
#define KG_ACCESS_DENIED		ERRCODE_INSUFFICIENT_PRIVILEGE

#endif							/* KG_ERRORS_H */
