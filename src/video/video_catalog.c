/*-------------------------------------------------------------------------
 *
 * video_catalog.c
 *		create_stream and delete_stream of kinesis_video: the parts of the
 *		control plane that create or drop storage.
 *
 * Privileges (as for data streams): creating a video stream needs CREATE
 * on schema kinesis_video_media; the creator becomes the stream's owner
 * (kinesis_video.streams.owner).  The fragment table
 * kinesis_video_media.<name> and its segments belong to the extension
 * owner; the stream owner holds INSERT and SELECT on it WITH GRANT OPTION,
 * and GRANTs on it decide who may put (INSERT) and read (SELECT).
 * Deleting needs the privileges of the stream owner (superusers pass).  Catalog rows and
 * DDL are written as the extension owner once the checks pass
 * (kg_catalog.c), so the fragment tables and their segments are protected
 * from DDL by the utility hook (worker.c).
 *
 * Locking: both take SHARE ROW EXCLUSIVE on kinesis_video.streams
 * (serialising control-plane changes, not puts or reads); delete_stream
 * also takes the stream's put lock, so it waits for producers in flight,
 * and its DROP TABLE waits for readers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "common/kg_catalog.h"
#include "common/kg_compat.h"
#include "common/kg_errors.h"
#include "common/kg_shmem.h"
#include "video/video.h"

#define KG_VIDEO_NAME_MAX 256

static char *
kg_video_arg_text(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* InvalidArgumentException unless name is 1-256 characters of [a-zA-Z0-9_.-]. */
static void
kg_video_check_name(const char *name)
{
	size_t		len = name ? strlen(name) : 0;

	if (len < 1 || len > KG_VIDEO_NAME_MAX)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: video stream name must have 1 to %d characters",
						KG_VIDEO_NAME_MAX)));
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: video stream name must satisfy the pattern [a-zA-Z0-9_.-]+")));
}

/*
 * InvalidArgumentException unless media_type is a comma-separated list of
 * type/subtype MIME names of at most 128 characters.
 */
static void
kg_video_check_media_type(const char *mt)
{
	bool		ok = strlen(mt) >= 3 && strlen(mt) <= 128;
	bool		slash = false;
	int			part = 0;

	for (const char *p = mt; ok && *p; p++)
	{
		if (*p == '/')
		{
			ok = !slash && part > 0;
			slash = true;
			part = 0;
		}
		else if (*p == ',')
		{
			ok = slash && part > 0;
			slash = false;
			part = 0;
		}
		else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				 (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-' || *p == '+')
			part++;
		else
			ok = false;
	}
	if (!ok || !slash || part == 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: media type must be a list of MIME types such as \"video/h264,audio/aac\""),
				 errdetail("At most 128 characters of [a-zA-Z0-9_.+-], each type written type/subtype, separated by commas.")));
}

PG_FUNCTION_INFO_V1(kg_video_create_stream);

/*
 * kinesis_video.create_stream(stream_name, media_type, data_retention_in_hours,
 *							   device_name, kms_key_id) returns the stream ARN.
 * The stream is ACTIVE when this returns; its first segments exist.
 */
Datum
kg_video_create_stream(PG_FUNCTION_ARGS)
{
	char	   *name = kg_video_arg_text(fcinfo, 0);
	char	   *media_type = kg_video_arg_text(fcinfo, 1);
	int32		retention = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	char	   *device = kg_video_arg_text(fcinfo, 3);
	char	   *kms = kg_video_arg_text(fcinfo, 4);
	KgCatalogContext cc;
	int32		stream_id;
	char	   *table;
	char	   *qtable;
	char	   *arn;
	bool		isnull;

	kg_require_shmem();
	kg_video_check_name(name);
	if (media_type)
		kg_video_check_media_type(media_type);
	if (retention < 0 || retention > KG_VIDEO_MAX_RETENTION_HOURS)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: data retention must be between 0 and %d hours",
						KG_VIDEO_MAX_RETENTION_HOURS),
				 errdetail("The data retention given was %d hours.", retention),
				 errhint("0 keeps fragments only in a short buffer (kinesis_glue.video_buffer_retention).")));
	if (device && (strlen(device) < 1 || strlen(device) > 128))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: device name must have 1 to 128 characters")));
	if (kms && (strlen(kms) < 1 || strlen(kms) > 2048))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: KMS key id must have 1 to 2048 characters")));
	PreventCommandIfReadOnly("kinesis_video.create_stream()");
	if (pg_namespace_aclcheck(get_namespace_oid("kinesis_video_media", false), GetUserId(),
							  ACL_CREATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(KG_ACCESS_DENIED),
				 errmsg("AccessDeniedException: permission denied to create video streams"),
				 errhint("A superuser can allow it: GRANT CREATE ON SCHEMA kinesis_video_media TO %s.",
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));

	kg_catalog_enter(&cc, true);
	kg_spi_exec("LOCK TABLE kinesis_video.streams IN SHARE ROW EXCLUSIVE MODE", 0, NULL, NULL, NULL, false);
	if (kg_spi_exec("SELECT 1 FROM kinesis_video.streams WHERE stream_name OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name)}, NULL, false) > 0)
		ereport(ERROR,
				(errcode(KG_RESOURCE_IN_USE),
				 errmsg("ResourceInUseException: video stream \"%s\" already exists", name)));
	kg_spi_exec("INSERT INTO kinesis_video.streams (stream_name, stream_arn, media_type, device_name, "
				"kms_key_id, data_retention_in_hours, owner) VALUES ($1, "
				"'arn:aws:kinesisvideo:postgresql:' OPERATOR(pg_catalog.||) pg_catalog.current_database() "
				"OPERATOR(pg_catalog.||) ':stream/' OPERATOR(pg_catalog.||) $1 OPERATOR(pg_catalog.||) '/' "
				"OPERATOR(pg_catalog.||) pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()) "
				"OPERATOR(pg_catalog.*) 1000)::bigint, $2, $3, $4, $5, $6) RETURNING stream_id, stream_arn",
				6, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, OIDOID},
				(Datum[]) {CStringGetTextDatum(name), media_type ? CStringGetTextDatum(media_type) : 0,
						   device ? CStringGetTextDatum(device) : 0, kms ? CStringGetTextDatum(kms) : 0,
						   Int32GetDatum(retention), ObjectIdGetDatum(cc.save_userid)},
				(char[]) {' ', media_type ? ' ' : 'n', device ? ' ' : 'n', kms ? ' ' : 'n', ' ', ' '}, false);
	stream_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	arn = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	arn = MemoryContextStrdup(TopTransactionContext, arn);

	table = kg_free_relation_name("kinesis_video_media", name, stream_id);
	qtable = psprintf("kinesis_video_media.%s", quote_identifier(table));
	kg_spi_exec(psprintf("CREATE TABLE %s ("
						 "fragment_number bigint NOT NULL, "
						 "media_sequence bigint NOT NULL, "
						 "producer_timestamp timestamptz NOT NULL, "
						 "server_timestamp timestamptz NOT NULL, "
						 "fragment_length_in_milliseconds integer NOT NULL, "
						 "fragment_size_in_bytes integer NOT NULL, "
						 "fragment_metadata jsonb, "
						 "media bytea NOT NULL) PARTITION BY RANGE (server_timestamp)", qtable),
				0, NULL, NULL, NULL, false);
	/* media is already compressed: store it out of line without trying pglz */
	kg_spi_exec(psprintf("ALTER TABLE %s ALTER COLUMN media SET STORAGE EXTERNAL", qtable),
				0, NULL, NULL, NULL, false);
	kg_spi_exec(psprintf("CREATE INDEX ON %s (fragment_number)", qtable), 0, NULL, NULL, NULL, false);
	kg_spi_exec(psprintf("CREATE INDEX ON %s (server_timestamp)", qtable), 0, NULL, NULL, NULL, false);
	kg_spi_exec(psprintf("CREATE INDEX ON %s (producer_timestamp)", qtable), 0, NULL, NULL, NULL, false);
	kg_spi_exec(psprintf("CREATE TRIGGER forbid_direct_dml BEFORE INSERT OR UPDATE OR DELETE ON %s "
						 "FOR EACH ROW EXECUTE FUNCTION kinesis_video._forbid_direct_dml()", qtable),
				0, NULL, NULL, NULL, false);
	kg_spi_exec(psprintf("CREATE TRIGGER forbid_truncate BEFORE TRUNCATE ON %s "
						 "FOR EACH STATEMENT EXECUTE FUNCTION kinesis_video._forbid_direct_dml()", qtable),
				0, NULL, NULL, NULL, false);
	kg_spi_exec(psprintf("COMMENT ON TABLE %s IS %s", qtable,
						 quote_literal_cstr(psprintf("fragments of video stream %s (read with kinesis_video.get_media)", name))),
				0, NULL, NULL, NULL, false);
	kg_grant_storage(qtable, cc.save_userid);
	kg_spi_exec(psprintf("UPDATE kinesis_video.streams SET media_table = %s::pg_catalog.regclass "
						 "WHERE stream_id OPERATOR(pg_catalog.=) $1", quote_literal_cstr(qtable)),
				1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, false);
	/* the first segments now; the worker keeps them ahead afterwards */
	kg_spi_exec("SELECT kinesis_video._upkeep($1, false)",
				1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, false);
	kg_catalog_exit(&cc);
	kg_wake_worker(MyDatabaseId);
	PG_RETURN_TEXT_P(cstring_to_text(arn));
}

PG_FUNCTION_INFO_V1(kg_video_delete_stream);

/*
 * kinesis_video.delete_stream(stream_name, current_version): drop the
 * stream and all its fragments.  Waits for producers and readers in flight.
 */
Datum
kg_video_delete_stream(PG_FUNCTION_ARGS)
{
	char	   *name = kg_video_arg_text(fcinfo, 0);
	KgCatalogContext cc;
	int32		stream_id;
	int32		version;
	Oid			media_table;
	bool		isnull;

	kg_require_shmem();
	kg_video_check_name(name);
	PreventCommandIfReadOnly("kinesis_video.delete_stream()");
	kg_catalog_enter(&cc, true);
	kg_spi_exec("LOCK TABLE kinesis_video.streams IN SHARE ROW EXCLUSIVE MODE", 0, NULL, NULL, NULL, false);
	if (kg_spi_exec("SELECT stream_id, version, media_table::oid, owner::oid FROM kinesis_video.streams "
					"WHERE stream_name OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name)}, NULL, false) == 0)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: video stream \"%s\" does not exist", name),
				 errhint("List them with kinesis_video.list_streams().")));
	stream_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	media_table = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if (!has_privs_of_role(cc.save_userid,
						   DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull))))
		ereport(ERROR,
				(errcode(KG_ACCESS_DENIED),
				 errmsg("AccessDeniedException: must be owner of video stream \"%s\" to delete it", name)));
	if (!PG_ARGISNULL(1) && PG_GETARG_INT32(1) != version)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("VersionMismatchException: video stream \"%s\" is at version %d, not %d",
						name, version, PG_GETARG_INT32(1)),
				 errhint("Read the current version with kinesis_video.describe_stream().")));
	if (kg_spi_exec("SELECT 1 FROM kinesis_video.stream_processors "
					"WHERE stream_id OPERATOR(pg_catalog.=) $1 LIMIT 1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, false) > 0)
		ereport(ERROR,
				(errcode(KG_RESOURCE_IN_USE),
				 errmsg("ResourceInUseException: video stream \"%s\" has stream processors", name),
				 errhint("Delete them first with kinesis_video.delete_stream_processor().")));
	kg_video_lock_stream(stream_id);
	if (get_rel_name(media_table) != NULL)
		kg_spi_exec(psprintf("DROP TABLE %s CASCADE",
							 quote_qualified_identifier(get_namespace_name(get_rel_namespace(media_table)),
														get_rel_name(media_table))),
					0, NULL, NULL, NULL, false);
	kg_spi_exec("DELETE FROM kinesis_video.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
				1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(stream_id)}, NULL, false);
	kg_catalog_exit(&cc);
	PG_RETURN_VOID();
}
