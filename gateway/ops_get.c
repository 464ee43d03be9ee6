/*
 * ops_get.c - GetRecords, the read hot path: one query returns the
 * records (get_records_rows) in binary format, so the data arrive as
 * bytes, not bytea hex; the answer is written straight into one buffer
 * (answer.c).  Also the records of a SubscribeToShard event as a json-c
 * object (gw_records_json; the event stream frames it).  Event-loop thread
 * only.
 */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * GetRecords: get_records_rows (a row per record, then the row of the
 * iterator, lag and children), not unnest() of get_records' array, which
 * costs the backend a tuplestore row per record (test/bench/PROFILE.md).
 * The result comes in binary format, every column but the data cast to
 * text (whose binary form is its text), so the records' bytes arrive as
 * they are instead of as bytea hex.  With routing = cluster the same
 * columns come from kinesis_cluster.get_records (ops_routing.c).
 */
bool
b_get_records(gw_request *r, json_object *in, gw_err *e)
{
	const char *it,
			   *limit;
	char		nb[32];

	if (!in_req(in, "ShardIterator", &it, e) || !in_num(in, "Limit", nb, sizeof(nb), &limit, e))
		return false;
	ROUTED_QUERY(r, GW_Q_GET_RECORDS, it, limit);
	r->queries[r->nqueries - 1].binary_result = true;
	return true;
}

/*
 * Records, NextShardIterator, MillisBehindLatest and ChildShards from the
 * rows of the get_records query (shared with SubscribeToShard): the data
 * column is bytea in text (hex) or binary format, the others text.  Column
 * 7, when the query has it, holds the ChildShards as JSON text
 * (CHILDREN_SQL: ids, parents and hash key ranges); else column 2 names the
 * children only.
 */
json_object *
gw_records_json(PGresult *g)
{
	json_object *o = json_object_new_object(),
			   *a = json_object_new_array();

	for (int i = 0; i < PQntuples(g); i++)
	{
		json_object *x;
		char	   *b64;

		if (PQgetisnull(g, i, 3))
			continue;
		x = json_object_new_object();
		add_col(x, "SequenceNumber", g, i, 3);
		add_epoch(x, "ApproximateArrivalTimestamp", g, i, 4);
		if (PQfformat(g, 6) == 1)
			b64 = gw_base64_encode((const unsigned char *) PQgetvalue(g, i, 6), PQgetlength(g, i, 6));
		else
			b64 = bytea_to_base64(PQgetvalue(g, i, 6));
		add_str(x, "Data", b64);
		free(b64);
		add_col(x, "PartitionKey", g, i, 5);
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "Records", a);
	if (PQntuples(g) > 0)
	{
		json_object *cs = gw_child_shards_json(g, 0);

		add_col(o, "NextShardIterator", g, 0, 0);
		add_int(o, "MillisBehindLatest", g, 0, 1);
		if (cs)
			json_object_object_add(o, "ChildShards", cs);
	}
	return o;
}

/*
 * The ChildShards in row of a get_records result (NULL when there are
 * none): column 7's JSON, else the names in column 2.
 */
json_object *
gw_child_shards_json(PGresult *g, int row)
{
	json_object *cs;
	char	   *list,
			   *save = NULL;

	if (PQnfields(g) > 7 && !PQgetisnull(g, row, 7))
	{
		cs = json_tokener_parse(PQgetvalue(g, row, 7));
		return cs ? cs : json_object_new_array();
	}
	if (PQgetisnull(g, row, 2))
		return NULL;
	cs = json_object_new_array();
	list = strdup(PQgetvalue(g, row, 2));
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
	{
		json_object *c = json_object_new_object();

		add_str(c, "ShardId", t);
		json_object_object_add(c, "ParentShards", json_object_new_array());
		json_object_array_add(cs, c);
	}
	free(list);
	return cs;
}

/*
 * The answer of GetRecords, written straight out (answer.c): the members
 * and their order of gw_records_json.  The rows come in binary format; the
 * iterator, lag and children are in the last one (get_records_rows).
 */
bool
a_get_records(gw_request *r, json_object *in, PGresult **res, gw_out *o, gw_err *e)
{
	PGresult   *g = res[0];
	int			n = PQntuples(g),
				m = n - 1,
				nrec = 0;
	json_object *cs = n > 0 ? gw_child_shards_json(g, m) : NULL;

	for (int i = 0; i < n; i++)
		nrec += !PQgetisnull(g, i, 3);
	gw_out_map(o, 1 + (n > 0 ? !PQgetisnull(g, m, 0) + !PQgetisnull(g, m, 1) + (cs != NULL) : 0));
	gw_out_key(o, "Records");
	gw_out_array(o, nrec);
	for (int i = 0; i < n; i++)
	{
		if (PQgetisnull(g, i, 3))
			continue;
		gw_out_map(o, 2 + !PQgetisnull(g, i, 4) + !PQgetisnull(g, i, 5));
		gw_out_key(o, "SequenceNumber");
		gw_out_str(o, PQgetvalue(g, i, 3), PQgetlength(g, i, 3));
		if (!PQgetisnull(g, i, 4))
		{
			gw_out_key(o, "ApproximateArrivalTimestamp");
			gw_out_epoch(o, PQgetvalue(g, i, 4));
		}
		gw_out_key(o, "Data");
		gw_out_blob(o, (const unsigned char *) PQgetvalue(g, i, 6), PQgetlength(g, i, 6));
		if (!PQgetisnull(g, i, 5))
		{
			gw_out_key(o, "PartitionKey");
			gw_out_str(o, PQgetvalue(g, i, 5), PQgetlength(g, i, 5));
		}
		gw_out_end(o);
	}
	gw_out_end(o);
	if (n > 0)
	{
		if (!PQgetisnull(g, m, 0))
		{
			gw_out_key(o, "NextShardIterator");
			gw_out_str(o, PQgetvalue(g, m, 0), PQgetlength(g, m, 0));
		}
		if (!PQgetisnull(g, m, 1))
		{
			gw_out_key(o, "MillisBehindLatest");
			gw_out_int(o, strtoll(PQgetvalue(g, m, 1), NULL, 10));
		}
		if (cs)
		{
			gw_out_key(o, "ChildShards");
			gw_out_json(o, cs);
			json_object_put(cs);
		}
	}
	gw_out_end(o);
	return true;
}
