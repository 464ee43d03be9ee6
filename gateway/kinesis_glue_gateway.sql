-- kinesis_glue_gateway.sql - the access keys of the wire gateway (auth = sigv4).
--
-- Run once per database, as a superuser or the database owner:
--     psql -d app -f gateway/kinesis_glue_gateway.sql
--
-- Only the owner of the table (an administrator) writes it; the gateway's
-- login reads it through the role kinesis_gateway_reader.  Each key maps to
-- a PostgreSQL role; every request signed with the key runs as that role
-- (SET ROLE inside the request's transaction), so the login must be a member
-- of the mapped roles and the extension's GRANTs decide what the key may do:
--
--     CREATE ROLE gateway LOGIN;                     -- the login of conninfo
--     GRANT kinesis_gateway_reader TO gateway;
--     GRANT app_producer TO gateway;                 -- each mapped role
--     INSERT INTO kinesis_gateway.access_keys (access_key_id, secret_access_key, role_name)
--          VALUES ('AKIAPRODUCER00000001', '<40 random characters>', 'app_producer');

CREATE SCHEMA IF NOT EXISTS kinesis_gateway;
REVOKE ALL ON SCHEMA kinesis_gateway FROM PUBLIC;

CREATE TABLE IF NOT EXISTS kinesis_gateway.access_keys (
    access_key_id text PRIMARY KEY CHECK (access_key_id ~ '^[A-Za-z0-9]{16,128}$'),
    secret_access_key text NOT NULL CHECK (length(secret_access_key) BETWEEN 16 AND 128),
    role_name regrole NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON kinesis_gateway.access_keys FROM PUBLIC;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'kinesis_gateway_reader') THEN
        CREATE ROLE kinesis_gateway_reader NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA kinesis_gateway TO kinesis_gateway_reader;
GRANT SELECT ON kinesis_gateway.access_keys TO kinesis_gateway_reader;
