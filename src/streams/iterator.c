/*-------------------------------------------------------------------------
 *
 * iterator.c
 *		Encoding, signing and checking of shard iterator tokens, and
 *		kinesis._iterator_position() (what a token points at).
 *
 * Token = base64url(payload || first 16 bytes of HMAC-SHA256(secret,
 * database OID || payload)), 68 characters.  The payload holds a version byte, stream id
 * and creation time, shard index, position and issue time.  The secret is
 * the row of kinesis.iterator_secret, made at CREATE EXTENSION, read once
 * per backend.  A token that does not decode or whose MAC does not match is
 * "InvalidArgumentException: invalid shard iterator"; one older than
 * kinesis_glue.iterator_ttl is "ExpiredIteratorException".
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/base64.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "common/kg_catalog.h"
#include "common/kg_errors.h"
#include "streams/streams.h"
#include "streams/iterator.h"

#define KG_ITER_VERSION 1
#define KG_ITER_PAYLOAD 33
#define KG_ITER_MAC 16
#define KG_ITER_RAW (KG_ITER_PAYLOAD + KG_ITER_MAC)

static uint8 *iterator_secret = NULL;
static int	iterator_secret_len = 0;

static void
kg_load_secret(void)
{
	KgCatalogContext cc;
	int			n;

	if (iterator_secret)
		return;
	kg_catalog_enter(&cc, true);
	n = kg_spi_exec("SELECT secret FROM kinesis.iterator_secret LIMIT 1", 0, NULL, NULL, NULL, true);
	if (n == 1)
	{
		bool		isnull;
		bytea	   *b = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

		iterator_secret_len = VARSIZE_ANY_EXHDR(b);
		iterator_secret = MemoryContextAlloc(TopMemoryContext, iterator_secret_len);
		memcpy(iterator_secret, VARDATA_ANY(b), iterator_secret_len);
	}
	kg_catalog_exit(&cc);
	if (iterator_secret == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the shard iterator secret of kinesis_glue is missing"),
				 errhint("Re-create the extension, or insert 32 random bytes into kinesis.iterator_secret.")));
}

/*
 * MAC of a payload: HMAC-SHA256 under the secret over the database OID and
 * the payload.  The OID binds a token to its database: a copy made with
 * CREATE DATABASE ... TEMPLATE inherits the secret row, but not the OID, so
 * tokens of one database are invalid in the other.
 */
static void
kg_mac(const uint8 *payload, uint8 *mac)
{
	pg_hmac_ctx *ctx;
	uint8		full[PG_SHA256_DIGEST_LENGTH];
	uint8		db[4];

	kg_load_secret();
	db[0] = (uint8) (MyDatabaseId >> 24);
	db[1] = (uint8) (MyDatabaseId >> 16);
	db[2] = (uint8) (MyDatabaseId >> 8);
	db[3] = (uint8) MyDatabaseId;
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL ||
		pg_hmac_init(ctx, iterator_secret, iterator_secret_len) < 0 ||
		pg_hmac_update(ctx, db, sizeof(db)) < 0 ||
		pg_hmac_update(ctx, payload, KG_ITER_PAYLOAD) < 0 ||
		pg_hmac_final(ctx, full, sizeof(full)) < 0)
		elog(ERROR, "could not compute HMAC of a shard iterator");
	pg_hmac_free(ctx);
	memcpy(mac, full, KG_ITER_MAC);
}

static void
put64(uint8 *p, uint64 v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8) (v & 0xff);
}

static uint64
get64(const uint8 *p)
{
	uint64		v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Make a signed token for an iterator. */
char *
kg_iterator_encode(const KgIterator *it)
{
	uint8		raw[KG_ITER_RAW];
	char	   *out;
	int			len;

	raw[0] = KG_ITER_VERSION;
	raw[1] = (uint8) (it->stream_id >> 24);
	raw[2] = (uint8) (it->stream_id >> 16);
	raw[3] = (uint8) (it->stream_id >> 8);
	raw[4] = (uint8) it->stream_id;
	put64(raw + 5, (uint64) it->stream_created);
	raw[13] = (uint8) (it->shard_index >> 24);
	raw[14] = (uint8) (it->shard_index >> 16);
	raw[15] = (uint8) (it->shard_index >> 8);
	raw[16] = (uint8) it->shard_index;
	put64(raw + 17, (uint64) it->position);
	put64(raw + 25, (uint64) it->issued_at);
	kg_mac(raw, raw + KG_ITER_PAYLOAD);

	out = palloc(pg_b64_enc_len(KG_ITER_RAW) + 1);
	len = pg_b64_encode((const char *) raw, KG_ITER_RAW, out, pg_b64_enc_len(KG_ITER_RAW));
	if (len < 0)
		elog(ERROR, "could not encode a shard iterator");
	out[len] = '\0';
	for (char *p = out; *p; p++)
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	return out;
}

static void
kg_invalid_iterator(void)
{
	ereport(ERROR,
			(errcode(KG_INVALID_ARGUMENT),
			 errmsg("InvalidArgumentException: invalid shard iterator"),
			 errhint("Use a token returned by kinesis.get_shard_iterator() or kinesis.get_records(), unchanged.")));
}

/* Check and decode a token; raises the Kinesis errors. */
void
kg_iterator_decode(const char *token, KgIterator *it)
{
	size_t		tlen = strlen(token);
	char	   *b64;
	uint8		raw[KG_ITER_RAW + 8];
	uint8		mac[KG_ITER_MAC];
	int			len;
	TimestampTz now;

	if (tlen == 0 || tlen > 512)
		kg_invalid_iterator();
	b64 = pstrdup(token);
	for (char *p = b64; *p; p++)
		if (*p == '-')
			*p = '+';
		else if (*p == '_')
			*p = '/';
	if (pg_b64_dec_len(tlen) > (int) sizeof(raw))
		kg_invalid_iterator();
	len = pg_b64_decode(b64, tlen, (char *) raw, sizeof(raw));
	if (len != KG_ITER_RAW || raw[0] != KG_ITER_VERSION)
		kg_invalid_iterator();
	/* only the canonical encoding of a payload is accepted */
	{
		char	   *canon = palloc(pg_b64_enc_len(KG_ITER_RAW) + 1);
		int			clen = pg_b64_encode((const char *) raw, KG_ITER_RAW, canon, pg_b64_enc_len(KG_ITER_RAW));

		if (clen != (int) tlen || memcmp(canon, b64, tlen) != 0)
			kg_invalid_iterator();
	}
	kg_mac(raw, mac);
	/* constant-time comparison */
	{
		uint8		diff = 0;

		for (int i = 0; i < KG_ITER_MAC; i++)
			diff |= mac[i] ^ raw[KG_ITER_PAYLOAD + i];
		if (diff != 0)
			kg_invalid_iterator();
	}
	it->stream_id = (int32) (((uint32) raw[1] << 24) | ((uint32) raw[2] << 16) |
							 ((uint32) raw[3] << 8) | raw[4]);
	it->stream_created = (TimestampTz) get64(raw + 5);
	it->shard_index = (int32) (((uint32) raw[13] << 24) | ((uint32) raw[14] << 16) |
							   ((uint32) raw[15] << 8) | raw[16]);
	it->position = (int64) get64(raw + 17);
	it->issued_at = (TimestampTz) get64(raw + 25);

	now = GetCurrentTimestamp();
	if (TimestampDifferenceExceeds(it->issued_at, now, kg_iterator_ttl_ms))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ExpiredIteratorException: iterator expired"),
				 errdetail("The iterator was created at %s, more than %d milliseconds ago.",
						   timestamptz_to_str(it->issued_at), kg_iterator_ttl_ms),
				 errhint("Get a new iterator with kinesis.get_shard_iterator().")));
}

PG_FUNCTION_INFO_V1(kg_iterator_position_sql);

/*
 * kinesis._iterator_position(shard_iterator) -> (stream_id, shard_index,
 * stream_creation_timestamp): what a valid, unexpired iterator points at;
 * errors as get_records for a forged or expired one.  It reveals only what
 * the catalogs show everybody (kinesis.shards), so it checks no rights.
 */
Datum
kg_iterator_position_sql(PG_FUNCTION_ARGS)
{
	KgIterator	it;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	kg_iterator_decode(text_to_cstring(PG_GETARG_TEXT_PP(0)), &it);
	values[0] = Int32GetDatum(it.stream_id);
	values[1] = Int32GetDatum(it.shard_index);
	values[2] = TimestampTzGetDatum(it.stream_created);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
