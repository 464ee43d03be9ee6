/*-------------------------------------------------------------------------
 *
 * kg_json.h
 *		Checking JSON without raising errors (kg_json.c).
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_JSON_H
#define KG_JSON_H

extern bool kg_json_is_valid(const char *s, int len);
extern int	kg_json_depth(const char *s, int len);

#endif							/* KG_JSON_H */
