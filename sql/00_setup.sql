--
-- 00_setup: install the extension once for every regression file, and a
-- small helper that runs a statement and reports its outcome as
-- 'ok' or '<SQLSTATE>: <message>' (no file/line, no time-dependent detail).
--
CREATE EXTENSION kinesis_glue;

CREATE FUNCTION public.kg_try(stmt text) RETURNS text
    LANGUAGE plpgsql AS
$$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

SELECT extname, extversion IS NOT NULL AS has_version
  FROM pg_extension WHERE extname = 'kinesis_glue';
SELECT nspname FROM pg_namespace
 WHERE nspname IN ('kinesis', 'kinesis_glue', 'kinesis_records', 'kinesis_segments')
 ORDER BY nspname;
