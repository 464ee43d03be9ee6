/*-------------------------------------------------------------------------
 *
 * video_owners.c
 *		What DROP OWNED, REASSIGN OWNED and DROP ROLE (worker/owned.c) do
 *		with the video streams and stream processors a role owns.  DROP
 *		OWNED deletes the role's processors, then its video streams with
 *		their storage (kinesis_video.delete_stream, as the caller); a video
 *		stream that another role's processor reads is refused under
 *		RESTRICT and deleted with the processor under CASCADE, as
 *		PostgreSQL does for dependent objects.  REASSIGN OWNED moves the
 *		catalog owners and gives the new owner the storage privileges an
 *		owner holds.
 *
 * Locking: the delete functions' own; the catalog UPDATEs lock their rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "video/video.h"
#include "worker/kg_worker.h"

/* DROP OWNED: processors, then streams (see the file header). */
static void
kg_video_drop_owned(Datum roles, DropBehavior behavior)
{
	List	   *blockers;

	(void) kg_owned_names("DELETE FROM kinesis_video.stream_processors WHERE " KG_OWNED_BY " RETURNING name",
						  roles, CurrentMemoryContext);
	blockers = kg_owned_names("SELECT p.name FROM kinesis_video.stream_processors p "
							  "JOIN kinesis_video.streams s USING (stream_id) "
							  "WHERE s." KG_OWNED_BY " ORDER BY 1",
							  roles, CurrentMemoryContext);
	if (blockers != NIL && behavior != DROP_CASCADE)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop the video streams owned by the role because other objects depend on them"),
				 errdetail("Stream processor \"%s\" of another role reads one of them.",
						   (char *) linitial(blockers)),
				 errhint("Use DROP OWNED ... CASCADE to delete such stream processors too.")));
	if (blockers != NIL)
		(void) kg_owned_names("DELETE FROM kinesis_video.stream_processors p USING kinesis_video.streams s "
							  "WHERE p.stream_id OPERATOR(pg_catalog.=) s.stream_id "
							  "AND s." KG_OWNED_BY " RETURNING p.name",
							  roles, CurrentMemoryContext);
	kg_owned_delete_each("SELECT stream_name FROM kinesis_video.streams WHERE " KG_OWNED_BY " ORDER BY 1",
						 "SELECT kinesis_video.delete_stream($1)", roles);
}

/* REASSIGN OWNED, inside kg_catalog_enter. */
static void
kg_video_reassign_owned(Datum roles, Oid newrole)
{
	static const char *const sql[] = {
		"UPDATE kinesis_video.stream_processors SET owner = $2 WHERE " KG_OWNED_BY,
	};

	kg_owned_reassign_storage("kinesis_video.streams", "media_table::pg_catalog.text",
							  roles, newrole, NULL);
	kg_owned_reassign_sql(sql, lengthof(sql), roles, newrole);
}

static const char *const labels[] = {"video streams", "video stream processors", NULL};
static const char *const catalogs[] = {"kinesis_video.streams", "kinesis_video.stream_processors", NULL};

const KgOwnedObjects kg_video_owned = {
	labels, catalogs, NULL, kg_video_drop_owned, kg_video_reassign_owned
};
