/*
 * ops.h - helpers shared by the operation files (ops_util.c, ops_*.c).
 * Event-loop thread only.
 */
#ifndef GW_OPS_H
#define GW_OPS_H

#include "gw.h"

#define NAMELEN 256

bool		op_fail(gw_err *e, const char *type, const char *fmt,...) __attribute__((format(printf, 3, 4)));
const char *in_str(json_object *in, const char *key);
bool		in_num(json_object *in, const char *key, char *buf, size_t buflen, const char **out, gw_err *e);
const char *in_bool(json_object *in, const char *key);
bool		in_req(json_object *in, const char *key, const char **out, gw_err *e);
bool		in_stream(json_object *in, char *buf, size_t buflen, gw_err *e);
bool		in_consumer(json_object *in, char *stream, size_t slen, char *consumer, size_t clen, gw_err *e);
void		stream_arn(const char *name, char *buf, size_t buflen);
bool		check_blob(const char *key, const char *v, gw_err *e);
char	   *bytea_to_base64(const char *hexval);
void		add_str(json_object *o, const char *key, const char *v);
void		add_col(json_object *o, const char *key, PGresult *res, int row, int col);
void		add_epoch(json_object *o, const char *key, PGresult *res, int row, int col);
void		add_int(json_object *o, const char *key, PGresult *res, int row, int col);

bool		b_put_records(gw_request *r, json_object *in, gw_err *e);
json_object *r_put_records(gw_request *r, json_object *in, PGresult **res, gw_err *e);

extern const gw_op gw_kinesis_ops[];
extern const gw_op gw_firehose_ops[];

#endif
