--
-- glue_transforms: the transform helpers (src/glue/transforms.sql):
--   apply_mapping (paths, renames, safe casts, unmapped fields dropped),
--   drop_null_fields, relationalize (nested objects to dotted columns,
--   arrays to child tables), and their errors.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT glue.apply_mapping('{"user": {"id": "42", "name": "ann"}, "amount": "12.50", "at": "2024-01-02T03:04:05Z",
                            "bad": "x", "flag": "true", "a.b": 7, "extra": 1}',
  '[["user.id", "string", "user_id", "long"], ["user.name", "string", "name", "string"],
    ["amount", "string", "amount", "decimal(10,2)"], ["at", "string", "at", "timestamp"],
    ["bad", "string", "bad_number", "int"], ["missing", "string", "m", "string"], ["flag", "string", "ok", "boolean"],
    ["a\\.b", "long", "dotted", "double"], ["user", "struct", "user_json", "json"]]') AS mapped;
-- into a typed row
CREATE TABLE public.mapped (user_id bigint, name text, amount numeric, at timestamptz);
SELECT r.* FROM jsonb_populate_record(NULL::public.mapped,
       glue.apply_mapping('{"user": {"id": 7, "name": "bo"}, "amount": 3, "at": "2024-05-06 07:08:09+00"}',
                          '[["user.id", "long", "user_id", "long"], ["user.name", "string", "name", "string"],
                            ["amount", "int", "amount", "double"], ["at", "string", "at", "timestamp"]]')) r;
DROP TABLE public.mapped;
SELECT kg_try($$SELECT glue.apply_mapping('{}', '{"a": "b"}')$$) AS mappings_not_array;
SELECT kg_try($$SELECT glue.apply_mapping('{}', '[["a", "string", "b"]]')$$) AS short_mapping;
SELECT kg_try($$SELECT glue.apply_mapping('{"a": 1}', '[["a", "string", "b", "uuid"]]')$$) AS unknown_type;

SELECT glue.drop_null_fields('[{"a": 1, "b": null, "c": null}, {"a": null, "b": 2}, {"a": 3, "d": null}]') AS dropped;
SELECT glue.drop_null_fields('[]') AS empty;

SELECT * FROM glue.relationalize('[{"id": 1, "name": {"first": "a", "last": "b"}, "tags": ["x", "y"],
                                    "items": [{"sku": "s1", "q": 1, "opts": [1, 2]}, {"sku": "s2", "q": 2}]},
                                   {"id": 2, "tags": []}, "not an object"]', 'orders');
SELECT kg_try($$SELECT * FROM glue.relationalize('{}')$$) AS not_array;
SELECT kg_try($$SELECT * FROM glue.relationalize('[]', 'x; DROP TABLE t')$$) AS hostile_root;
