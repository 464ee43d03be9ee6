-- Schemas shared by every component.  Everything is schema-qualified; no
-- object here depends on the caller's search_path.

CREATE SCHEMA kinesis_glue;        -- extension-wide administration
CREATE SCHEMA kinesis;             -- Data Streams API and catalog
CREATE SCHEMA kinesis_records;     -- one partitioned table per data stream (GRANT here)
CREATE SCHEMA kinesis_segments;    -- the record segments (partitions); internal
CREATE SCHEMA firehose;
CREATE SCHEMA glue;
CREATE SCHEMA kinesis_video;

GRANT USAGE ON SCHEMA kinesis_glue, kinesis, kinesis_records, firehose, glue, kinesis_video TO PUBLIC;
REVOKE ALL ON SCHEMA kinesis_segments FROM PUBLIC;

-- The role that called the innermost run-as-owner function (the extension's
-- functions marked SET kinesis_glue.run_as_owner = on, which write the
-- catalogs as the extension owner: src/common/kg_owner_call.c), or the
-- current user outside them.  Catalog writers check this role's rights.
CREATE FUNCTION kinesis_glue.caller() RETURNS regrole
    LANGUAGE c STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'kg_caller';
