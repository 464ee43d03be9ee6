/*-------------------------------------------------------------------------
 *
 * get.c
 *		get_shard_iterator, and the start position of a read_shard that
 *		resumes after a consumer's checkpoint (the positions themselves:
 *		read.c; the reads: record_read.c).
 *
 * Iterators are stateless positions (iterator.c): reusing one returns the
 * same records; every call returns a new token.  LATEST is fixed when the
 * iterator is issued.
 *
 * Locking: see read.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "common/kg_errors.h"
#include "streams/iterator.h"
#include "streams/read.h"
#include "streams/record_read.h"
#include "streams/stream_cache.h"


/* The shard shard_id of s, or ResourceNotFoundException. */
KgShard *
kg_require_shard(KgStream *s, const char *shard_id)
{
	int32		idx = kg_parse_shard_id(s->name, shard_id);
	KgShard    *sh = kg_stream_find_shard(s, idx);

	if (sh == NULL)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: shard %s in stream \"%s\" does not exist",
						kg_shard_id_string(idx), s->name),
				 errhint("See kinesis.list_shards().")));
	return sh;
}

/* InvalidArgumentException unless seq is a sequence number of shard sh. */
void
kg_check_sequence_for_shard(KgShard *sh, int64 seq, const char *what)
{
	if (seq < 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: %s %lld is invalid", what, (long long) seq)));
	if (KG_SEQ_SHARD(seq) != sh->shard_index)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: invalid %s; it encodes %s, while it was used in a call to a shard with %s",
						what, kg_shard_id_string(KG_SEQ_SHARD(seq)), kg_shard_id_string(sh->shard_index))));
}

PG_FUNCTION_INFO_V1(kg_get_shard_iterator);

/*
 * kinesis.get_shard_iterator(stream_name, shard_id, shard_iterator_type,
 * starting_sequence_number, "timestamp") -> text
 */
Datum
kg_get_shard_iterator(PG_FUNCTION_ARGS)
{
	KgStream   *s;
	KgShard    *sh;
	char	   *type;
	bool		has_seq = !PG_ARGISNULL(3);
	bool		has_ts = !PG_ARGISNULL(4);
	int64		seq = has_seq ? PG_GETARG_INT64(3) : 0;
	KgIterator	it;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: stream name, shard id and shard iterator type must not be null")));
	type = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(type, "TRIM_HORIZON") != 0 && strcmp(type, "LATEST") != 0 &&
		strcmp(type, "AT_SEQUENCE_NUMBER") != 0 && strcmp(type, "AFTER_SEQUENCE_NUMBER") != 0 &&
		strcmp(type, "AT_TIMESTAMP") != 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: shard iterator type \"%s\" is not one of AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON", type)));

	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	kg_check_read_privilege(s);
	sh = kg_require_shard(s, text_to_cstring(PG_GETARG_TEXT_PP(1)));

	if ((strcmp(type, "AT_SEQUENCE_NUMBER") == 0 || strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0))
	{
		if (!has_seq)
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: %s needs a starting sequence number", type),
					 errhint("Pass starting_sequence_number, or use TRIM_HORIZON or LATEST.")));
		kg_check_sequence_for_shard(sh, seq, "starting sequence number");
	}
	else if (has_seq)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: %s takes no starting sequence number", type),
				 errhint("Use AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER to start at a sequence number.")));
	if (strcmp(type, "AT_TIMESTAMP") == 0)
	{
		if (!has_ts)
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: AT_TIMESTAMP needs a timestamp")));
		if (PG_GETARG_TIMESTAMPTZ(4) > GetCurrentTimestamp())
			ereport(ERROR,
					(errcode(KG_INVALID_ARGUMENT),
					 errmsg("InvalidArgumentException: the timestamp cannot be in the future"),
					 errdetail("The timestamp given was %s.", timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(4)))));
	}
	else if (has_ts)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: %s takes no timestamp", type)));

	if (strcmp(type, "TRIM_HORIZON") == 0)
		it.position = kg_trim_position(s, sh);
	else if (strcmp(type, "LATEST") == 0)
	{
		it.position = kg_position_latest(s, sh);
	}
	else if (strcmp(type, "AT_SEQUENCE_NUMBER") == 0)
		it.position = seq - 1;
	else if (strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0)
		it.position = seq;
	else
	{
		it.position = kg_position_at_time(s, sh, PG_GETARG_TIMESTAMPTZ(4));
	}

	it.stream_id = s->stream_id;
	it.stream_created = s->created_at;
	it.shard_index = sh->shard_index;
	it.issued_at = GetCurrentTimestamp();
	PG_RETURN_TEXT_P(cstring_to_text(kg_iterator_encode(&it)));
}

PG_FUNCTION_INFO_V1(kg_read_shard_after_checkpoint);

/*
 * kinesis.read_shard_start(stream_name, shard_id, checkpoint) -> bigint:
 * the after_sequence_number that makes read_shard resume after a position
 * of kinesis.consumer_positions (a checkpoint, which may be a position
 * between records: the trim horizon of a new consumer, a LATEST or
 * AT_TIMESTAMP start).  That is the greatest sequence number of the shard
 * at or below the position, or NULL ("from the trim horizon") when the
 * position lies before the shard's first record.  A NULL checkpoint is
 * NULL too.  Callers never take sequence numbers apart themselves.
 */
Datum
kg_read_shard_after_checkpoint(PG_FUNCTION_ARGS)
{
	KgStream   *s;
	KgShard    *sh;
	int64		pos;
	int64		counter;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: stream name and shard id must not be null")));
	s = kg_stream_get(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	sh = kg_require_shard(s, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	if (PG_ARGISNULL(2))
		PG_RETURN_NULL();
	pos = PG_GETARG_INT64(2);
	if (pos < sh->starting_seq)
		PG_RETURN_NULL();
	counter = KG_SEQ_COUNTER(pos);
	if (KG_SEQ_SHARD(pos) < sh->shard_index)
		counter--;				/* >= the first counter: pos >= starting_seq */
	PG_RETURN_INT64(KG_SEQ(counter, sh->shard_index));
}
