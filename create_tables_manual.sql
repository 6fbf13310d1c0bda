BEGIN;

SELECT set_config('search_path', concat_ws(', ', nullif(current_setting('search_path'), ''), 'sentinel_db'), false);

CREATE TABLE sentinel_db_alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT sentinel_db_alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 0004

CREATE TABLE import_runs (
    id UUID DEFAULT gen_random_uuid() NOT NULL, 
    run_id UUID NOT NULL, 
    table_name VARCHAR(63) NOT NULL, 
    source_path TEXT NOT NULL, 
    file_sha256 VARCHAR(64), 
    status VARCHAR(20) NOT NULL, 
    started_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    finished_at TIMESTAMP WITH TIME ZONE, 
    rows_read INTEGER DEFAULT 0 NOT NULL, 
    inserted INTEGER DEFAULT 0 NOT NULL, 
    updated INTEGER DEFAULT 0 NOT NULL, 
    unchanged INTEGER DEFAULT 0 NOT NULL, 
    rejected INTEGER DEFAULT 0 NOT NULL, 
    warnings INTEGER DEFAULT 0 NOT NULL, 
    error TEXT, 
    sentinel_version VARCHAR(32) NOT NULL, 
    CONSTRAINT pk_import_runs PRIMARY KEY (id)
);

CREATE INDEX ix_import_runs_table_name_started_at ON import_runs (table_name, started_at);

INSERT INTO sentinel_db_alembic_version (version_num) VALUES ('0004') RETURNING sentinel_db_alembic_version.version_num;

-- Running upgrade 0004 -> 0006b

ALTER TABLE import_runs ENABLE ROW LEVEL SECURITY;

UPDATE sentinel_db_alembic_version SET version_num='0006b' WHERE sentinel_db_alembic_version.version_num = '0004';

-- Running upgrade  -> 0003

CREATE TABLE pci_aws_config_rule_mappings (
    id UUID DEFAULT gen_random_uuid() NOT NULL, 
    control_id VARCHAR(20) NOT NULL, 
    config_rules JSONB NOT NULL, 
    CONSTRAINT pk_pci_aws_config_rule_mappings PRIMARY KEY (id), 
    CONSTRAINT uq_pci_aws_config_rule_mappings_control_id UNIQUE (control_id)
);

CREATE INDEX ix_pci_aws_config_rule_mappings_config_rules ON pci_aws_config_rule_mappings USING gin (config_rules);

INSERT INTO sentinel_db_alembic_version (version_num) VALUES ('0003') RETURNING sentinel_db_alembic_version.version_num;

-- Running upgrade 0003 -> 0006m

ALTER TABLE pci_aws_config_rule_mappings ENABLE ROW LEVEL SECURITY;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE POLICY sentinel_db_authenticated_read ON pci_aws_config_rule_mappings AS PERMISSIVE FOR SELECT TO authenticated USING (true);
  END IF;
END $$;

UPDATE sentinel_db_alembic_version SET version_num='0006m' WHERE sentinel_db_alembic_version.version_num = '0003';

-- Running upgrade 0006m -> 0007m

DROP INDEX ix_pci_aws_config_rule_mappings_config_rules;

CREATE INDEX ix_pci_aws_config_rule_mappings_config_rules ON pci_aws_config_rule_mappings USING gin (config_rules jsonb_path_ops);

UPDATE sentinel_db_alembic_version SET version_num='0007m' WHERE sentinel_db_alembic_version.version_num = '0006m';

-- Running upgrade  -> 0002

CREATE TABLE aws_config_rules_guidance (
    id UUID DEFAULT gen_random_uuid() NOT NULL, 
    config_rule VARCHAR(100) NOT NULL, 
    chunk TEXT NOT NULL, 
    metadata JSONB NOT NULL, 
    CONSTRAINT pk_aws_config_rules_guidance PRIMARY KEY (id), 
    CONSTRAINT uq_aws_config_rules_guidance_config_rule UNIQUE (config_rule)
);

CREATE INDEX ix_aws_config_rules_guidance_metadata ON aws_config_rules_guidance USING gin (metadata);

INSERT INTO sentinel_db_alembic_version (version_num) VALUES ('0002') RETURNING sentinel_db_alembic_version.version_num;

-- Running upgrade 0002 -> 0005r

ALTER TABLE aws_config_rules_guidance ADD COLUMN search_vector TSVECTOR GENERATED ALWAYS AS (to_tsvector('english'::regconfig, ((replace((config_rule)::text, '-'::text, ' '::text) || ' '::text) || chunk))) STORED;

CREATE INDEX ix_aws_config_rules_guidance_search_vector ON aws_config_rules_guidance USING gin (search_vector);

UPDATE sentinel_db_alembic_version SET version_num='0005r' WHERE sentinel_db_alembic_version.version_num = '0002';

-- Running upgrade 0005r -> 0006r

ALTER TABLE aws_config_rules_guidance ENABLE ROW LEVEL SECURITY;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE POLICY sentinel_db_authenticated_read ON aws_config_rules_guidance AS PERMISSIVE FOR SELECT TO authenticated USING (true);
  END IF;
END $$;

UPDATE sentinel_db_alembic_version SET version_num='0006r' WHERE sentinel_db_alembic_version.version_num = '0005r';

-- Running upgrade 0006r -> 0007r

DROP INDEX ix_aws_config_rules_guidance_metadata;

CREATE INDEX ix_aws_config_rules_guidance_metadata ON aws_config_rules_guidance USING gin (metadata jsonb_path_ops);

UPDATE sentinel_db_alembic_version SET version_num='0007r' WHERE sentinel_db_alembic_version.version_num = '0006r';

-- Running upgrade 0006b -> 0008b

CREATE SCHEMA IF NOT EXISTS sentinel_db;

REVOKE ALL ON SCHEMA sentinel_db FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM service_role;
  END IF;
END $$;

DO $$
BEGIN
  IF to_regclass(quote_ident(current_schema()) || '.' || quote_ident('import_runs')) IS NOT NULL THEN
    EXECUTE 'ALTER TABLE ' || quote_ident(current_schema()) || '.' || quote_ident('import_runs') || ' SET SCHEMA ' || quote_ident('sentinel_db');
  END IF;
END $$;

ALTER TABLE sentinel_db.import_runs ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.import_runs FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.import_runs FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.import_runs FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.import_runs FROM service_role;
  END IF;
END $$;

DO $$
BEGIN
  IF to_regclass(quote_ident(current_schema()) || '.' || quote_ident('sentinel_db_alembic_version')) IS NOT NULL THEN
    EXECUTE 'ALTER TABLE ' || quote_ident(current_schema()) || '.' || quote_ident('sentinel_db_alembic_version') || ' SET SCHEMA ' || quote_ident('sentinel_db');
  END IF;
END $$;

ALTER TABLE sentinel_db.sentinel_db_alembic_version ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.sentinel_db_alembic_version FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.sentinel_db_alembic_version FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.sentinel_db_alembic_version FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.sentinel_db_alembic_version FROM service_role;
  END IF;
END $$;

UPDATE sentinel_db_alembic_version SET version_num='0008b' WHERE sentinel_db_alembic_version.version_num = '0006b';

-- Running upgrade 0008b -> import_run_figures

ALTER TABLE sentinel_db.import_runs ADD COLUMN duration_seconds FLOAT;

ALTER TABLE sentinel_db.import_runs ADD COLUMN rows_per_second FLOAT;

ALTER TABLE sentinel_db.import_runs ADD COLUMN peak_memory_bytes BIGINT;

UPDATE sentinel_db_alembic_version SET version_num='import_run_figures' WHERE sentinel_db_alembic_version.version_num = '0008b';

-- Running upgrade 0007m -> 0008m

ALTER TABLE pci_aws_config_rule_mappings ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE pci_aws_config_rule_mappings FROM PUBLIC;

DO $$
DECLARE
  anon_read boolean := EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = to_regclass('pci_aws_config_rule_mappings') AND polname = 'sentinel_db_anon_read');
BEGIN
  DROP POLICY IF EXISTS sentinel_db_authenticated_read ON pci_aws_config_rule_mappings;
  DROP POLICY IF EXISTS sentinel_db_anon_read ON pci_aws_config_rule_mappings;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE pci_aws_config_rule_mappings FROM anon;
    IF anon_read THEN CREATE POLICY sentinel_db_anon_read ON pci_aws_config_rule_mappings AS PERMISSIVE FOR SELECT TO anon USING (true); GRANT SELECT ON TABLE pci_aws_config_rule_mappings TO anon; END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE pci_aws_config_rule_mappings FROM authenticated;
    CREATE POLICY sentinel_db_authenticated_read ON pci_aws_config_rule_mappings AS PERMISSIVE FOR SELECT TO authenticated USING (true);
    GRANT SELECT ON TABLE pci_aws_config_rule_mappings TO authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE pci_aws_config_rule_mappings FROM service_role;
    GRANT SELECT ON TABLE pci_aws_config_rule_mappings TO service_role;
  END IF;
END $$;

UPDATE sentinel_db_alembic_version SET version_num='0008m' WHERE sentinel_db_alembic_version.version_num = '0007m';

-- Running upgrade 0008m -> data_versions_mappings

CREATE SCHEMA IF NOT EXISTS sentinel_db;

REVOKE ALL ON SCHEMA sentinel_db FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM service_role;
  END IF;
END $$;

CREATE TABLE IF NOT EXISTS sentinel_db.data_versions (
            table_name text NOT NULL,
            version bigint NOT NULL,
            changed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_data_versions PRIMARY KEY (table_name)
        );

CREATE TABLE IF NOT EXISTS sentinel_db.data_version_marks (
            txid bigint NOT NULL,
            table_name text NOT NULL,
            CONSTRAINT pk_data_version_marks PRIMARY KEY (txid, table_name)
        );

CREATE OR REPLACE FUNCTION sentinel_db.mark_data_version() RETURNS trigger
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp
        AS $$
        BEGIN
            -- Under row-level security with no policy that lets anything be written, the
            -- statement changed no row (Supabase's anon and authenticated): nothing to record,
            -- and those roles need no right on the versions. TRUNCATE ignores RLS.
            IF TG_OP <> 'TRUNCATE' AND row_security_active(TG_RELID) AND NOT EXISTS (
                SELECT 1 FROM pg_policies
                WHERE schemaname = TG_TABLE_SCHEMA AND tablename = TG_TABLE_NAME
                  AND cmd <> 'SELECT'
            ) THEN
                RETURN NULL;
            END IF;
            INSERT INTO sentinel_db.data_version_marks (txid, table_name)
            VALUES (pg_current_xact_id()::text::bigint, TG_TABLE_NAME)
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END
        $$;

CREATE OR REPLACE FUNCTION sentinel_db.bump_data_version() RETURNS trigger
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp
        AS $$
        BEGIN
            INSERT INTO sentinel_db.data_versions AS v (table_name, version, changed_at)
            VALUES (NEW.table_name, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, now())
            ON CONFLICT (table_name)
            DO UPDATE SET version = v.version + 1, changed_at = now();
            DELETE FROM sentinel_db.data_version_marks
            WHERE txid = NEW.txid AND table_name = NEW.table_name;
            RETURN NULL;
        END
        $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'sentinel_db_bump_at_commit' AND tgrelid = 'sentinel_db.data_version_marks'::regclass) THEN
    CREATE CONSTRAINT TRIGGER sentinel_db_bump_at_commit AFTER INSERT ON sentinel_db.data_version_marks DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sentinel_db.bump_data_version();
  END IF;
END $$;

ALTER TABLE sentinel_db.data_versions ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.data_versions FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.data_versions FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.data_versions FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.data_versions FROM service_role;
  END IF;
END $$;

ALTER TABLE sentinel_db.data_version_marks ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM service_role;
  END IF;
END $$;

INSERT INTO sentinel_db.data_versions (table_name, version) VALUES ('pci_aws_config_rule_mappings', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint) ON CONFLICT (table_name) DO NOTHING;

CREATE TRIGGER sentinel_db_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pci_aws_config_rule_mappings FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.mark_data_version();

UPDATE sentinel_db_alembic_version SET version_num='data_versions_mappings' WHERE sentinel_db_alembic_version.version_num = '0008m';

-- Running upgrade 0007r -> 0008r

ALTER TABLE aws_config_rules_guidance ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE aws_config_rules_guidance FROM PUBLIC;

DO $$
DECLARE
  anon_read boolean := EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = to_regclass('aws_config_rules_guidance') AND polname = 'sentinel_db_anon_read');
BEGIN
  DROP POLICY IF EXISTS sentinel_db_authenticated_read ON aws_config_rules_guidance;
  DROP POLICY IF EXISTS sentinel_db_anon_read ON aws_config_rules_guidance;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE aws_config_rules_guidance FROM anon;
    IF anon_read THEN CREATE POLICY sentinel_db_anon_read ON aws_config_rules_guidance AS PERMISSIVE FOR SELECT TO anon USING (true); GRANT SELECT ON TABLE aws_config_rules_guidance TO anon; END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE aws_config_rules_guidance FROM authenticated;
    CREATE POLICY sentinel_db_authenticated_read ON aws_config_rules_guidance AS PERMISSIVE FOR SELECT TO authenticated USING (true);
    GRANT SELECT ON TABLE aws_config_rules_guidance TO authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE aws_config_rules_guidance FROM service_role;
    GRANT SELECT ON TABLE aws_config_rules_guidance TO service_role;
  END IF;
END $$;

UPDATE sentinel_db_alembic_version SET version_num='0008r' WHERE sentinel_db_alembic_version.version_num = '0007r';

-- Running upgrade 0008r -> 0021

DROP INDEX IF EXISTS ix_aws_config_rules_guidance_search_vector;

ALTER TABLE aws_config_rules_guidance DROP COLUMN IF EXISTS search_vector;

ALTER TABLE aws_config_rules_guidance ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (setweight(to_tsvector('english', regexp_replace(config_rule, '[-_]+', ' ', 'g')), 'A') || setweight(to_tsvector('english', regexp_replace(chunk, '[/_]+', ' ', 'g')), 'B') || setweight(to_tsvector('english', regexp_replace(regexp_replace(coalesce(metadata ->> 'resource_types', ''), '([a-z])([A-Z])', '\1 \2', 'g'), '[^a-zA-Z0-9]+', ' ', 'g')), 'C') || setweight(to_tsvector('english', translate(coalesce(metadata ->> 'control_ids', ''), '[]",', '    ')), 'D')) STORED;

CREATE INDEX ix_aws_config_rules_guidance_search_vector ON aws_config_rules_guidance USING gin (search_vector);

CREATE SCHEMA IF NOT EXISTS sentinel_db;

REVOKE ALL ON SCHEMA sentinel_db FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM service_role;
  END IF;
END $$;

CREATE TABLE sentinel_db.aws_config_rules_guidance_search_terms (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, term text NOT NULL, df integer NOT NULL);

CREATE INDEX ix_aws_config_rules_guidance_search_terms_term ON sentinel_db.aws_config_rules_guidance_search_terms (term);

CREATE TABLE sentinel_db.aws_config_rules_guidance_search_totals (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, docs bigint NOT NULL, lexemes bigint NOT NULL);

ALTER TABLE sentinel_db.aws_config_rules_guidance_search_terms ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.aws_config_rules_guidance_search_terms FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.aws_config_rules_guidance_search_terms FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.aws_config_rules_guidance_search_terms FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.aws_config_rules_guidance_search_terms FROM service_role;
  END IF;
END $$;

ALTER TABLE sentinel_db.aws_config_rules_guidance_search_totals ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.aws_config_rules_guidance_search_totals FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.aws_config_rules_guidance_search_totals FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.aws_config_rules_guidance_search_totals FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.aws_config_rules_guidance_search_totals FROM service_role;
  END IF;
END $$;

INSERT INTO sentinel_db.aws_config_rules_guidance_search_terms (term, df) SELECT u.lexeme, count(*) FROM aws_config_rules_guidance CROSS JOIN LATERAL unnest(search_vector) AS u GROUP BY u.lexeme;

INSERT INTO sentinel_db.aws_config_rules_guidance_search_totals (docs, lexemes) SELECT count(*), coalesce(sum(length(search_vector)), 0) FROM aws_config_rules_guidance;

CREATE FUNCTION sentinel_db.aws_config_rules_guidance_search_stats() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = '' AS $fn$
DECLARE
    touched text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM sentinel_db.aws_config_rules_guidance_search_terms;
        DELETE FROM sentinel_db.aws_config_rules_guidance_search_totals;
    ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO sentinel_db.aws_config_rules_guidance_search_totals (docs, lexemes)
    SELECT sum(sign), sum(sign * length(vector)) FROM (SELECT search_vector AS vector, 1 AS sign FROM new_rows) r HAVING count(*) > 0;
    IF (SELECT count(*) FROM sentinel_db.aws_config_rules_guidance_search_totals) > 64 THEN
        WITH folded AS (
            DELETE FROM sentinel_db.aws_config_rules_guidance_search_totals WHERE id IN (
                SELECT id FROM sentinel_db.aws_config_rules_guidance_search_totals FOR UPDATE SKIP LOCKED
            ) RETURNING docs, lexemes
        )
        INSERT INTO sentinel_db.aws_config_rules_guidance_search_totals (docs, lexemes)
        SELECT sum(docs), sum(lexemes) FROM folded HAVING count(*) > 0;
    END IF;
    WITH added AS (
        INSERT INTO sentinel_db.aws_config_rules_guidance_search_terms (term, df)
        SELECT u.lexeme, sum(r.sign)::integer
        FROM (SELECT search_vector AS vector, 1 AS sign FROM new_rows) r CROSS JOIN LATERAL unnest(r.vector) AS u
        GROUP BY u.lexeme
        HAVING sum(r.sign) <> 0
        RETURNING term
    )
    SELECT array_agg(term) INTO touched FROM added;
    IF touched IS NOT NULL THEN
        WITH folded AS (
            DELETE FROM sentinel_db.aws_config_rules_guidance_search_terms WHERE id IN (
                SELECT id FROM sentinel_db.aws_config_rules_guidance_search_terms WHERE term = ANY (touched) FOR UPDATE SKIP LOCKED
            ) RETURNING term, df
        )
        INSERT INTO sentinel_db.aws_config_rules_guidance_search_terms (term, df)
        SELECT term, sum(df) FROM folded GROUP BY term HAVING sum(df) <> 0;
    END IF;
    ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO sentinel_db.aws_config_rules_guidance_search_totals (docs, lexemes)
    SELECT sum(sign), sum(sign * length(vector)) FROM (SELECT search_vector AS vector, -1 AS sign FROM old_rows) r HAVING count(*) > 0;
    IF (SELECT count(*) FROM sentinel_db.aws_config_rules_guidance_search_totals) > 64 THEN
        WITH folded AS (
            DELETE FROM sentinel_db.aws_config_rules_guidance_search_totals WHERE id IN (
                SELECT id FROM sentinel_db.aws_config_rules_guidance_search_totals FOR UPDATE SKIP LOCKED
            ) RETURNING docs, lexemes
        )
        INSERT INTO sentinel_db.aws_config_rules_guidance_search_totals (docs, lexemes)
        SELECT sum(docs), sum(lexemes) FROM folded HAVING count(*) > 0;
    END IF;
    WITH added AS (
        INSERT INTO sentinel_db.aws_config_rules_guidance_search_terms (term, df)
        SELECT u.lexeme, sum(r.sign)::integer
        FROM (SELECT search_vector AS vector, -1 AS sign FROM old_rows) r CROSS JOIN LATERAL unnest(r.vector) AS u
        GROUP BY u.lexeme
        HAVING sum(r.sign) <> 0
        RETURNING term
    )
    SELECT array_agg(term) INTO touched FROM added;
    IF touched IS NOT NULL THEN
        WITH folded AS (
            DELETE FROM sentinel_db.aws_config_rules_guidance_search_terms WHERE id IN (
                SELECT id FROM sentinel_db.aws_config_rules_guidance_search_terms WHERE term = ANY (touched) FOR UPDATE SKIP LOCKED
            ) RETURNING term, df
        )
        INSERT INTO sentinel_db.aws_config_rules_guidance_search_terms (term, df)
        SELECT term, sum(df) FROM folded GROUP BY term HAVING sum(df) <> 0;
    END IF;
    ELSE
    INSERT INTO sentinel_db.aws_config_rules_guidance_search_totals (docs, lexemes)
    SELECT sum(sign), sum(sign * length(vector)) FROM (SELECT search_vector AS vector, 1 AS sign FROM new_rows UNION ALL SELECT search_vector AS vector, -1 AS sign FROM old_rows) r HAVING count(*) > 0;
    IF (SELECT count(*) FROM sentinel_db.aws_config_rules_guidance_search_totals) > 64 THEN
        WITH folded AS (
            DELETE FROM sentinel_db.aws_config_rules_guidance_search_totals WHERE id IN (
                SELECT id FROM sentinel_db.aws_config_rules_guidance_search_totals FOR UPDATE SKIP LOCKED
            ) RETURNING docs, lexemes
        )
        INSERT INTO sentinel_db.aws_config_rules_guidance_search_totals (docs, lexemes)
        SELECT sum(docs), sum(lexemes) FROM folded HAVING count(*) > 0;
    END IF;
    WITH added AS (
        INSERT INTO sentinel_db.aws_config_rules_guidance_search_terms (term, df)
        SELECT u.lexeme, sum(r.sign)::integer
        FROM (SELECT search_vector AS vector, 1 AS sign FROM new_rows UNION ALL SELECT search_vector AS vector, -1 AS sign FROM old_rows) r CROSS JOIN LATERAL unnest(r.vector) AS u
        GROUP BY u.lexeme
        HAVING sum(r.sign) <> 0
        RETURNING term
    )
    SELECT array_agg(term) INTO touched FROM added;
    IF touched IS NOT NULL THEN
        WITH folded AS (
            DELETE FROM sentinel_db.aws_config_rules_guidance_search_terms WHERE id IN (
                SELECT id FROM sentinel_db.aws_config_rules_guidance_search_terms WHERE term = ANY (touched) FOR UPDATE SKIP LOCKED
            ) RETURNING term, df
        )
        INSERT INTO sentinel_db.aws_config_rules_guidance_search_terms (term, df)
        SELECT term, sum(df) FROM folded GROUP BY term HAVING sum(df) <> 0;
    END IF;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER aws_config_rules_guidance_search_stats_insert AFTER INSERT ON aws_config_rules_guidance REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.aws_config_rules_guidance_search_stats();

CREATE TRIGGER aws_config_rules_guidance_search_stats_update AFTER UPDATE ON aws_config_rules_guidance REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.aws_config_rules_guidance_search_stats();

CREATE TRIGGER aws_config_rules_guidance_search_stats_delete AFTER DELETE ON aws_config_rules_guidance REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.aws_config_rules_guidance_search_stats();

CREATE TRIGGER aws_config_rules_guidance_search_stats_truncate AFTER TRUNCATE ON aws_config_rules_guidance  FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.aws_config_rules_guidance_search_stats();

UPDATE sentinel_db_alembic_version SET version_num='0021' WHERE sentinel_db_alembic_version.version_num = '0008r';

-- Running upgrade 0021 -> data_versions_rules

CREATE SCHEMA IF NOT EXISTS sentinel_db;

REVOKE ALL ON SCHEMA sentinel_db FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM service_role;
  END IF;
END $$;

CREATE TABLE IF NOT EXISTS sentinel_db.data_versions (
            table_name text NOT NULL,
            version bigint NOT NULL,
            changed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_data_versions PRIMARY KEY (table_name)
        );

CREATE TABLE IF NOT EXISTS sentinel_db.data_version_marks (
            txid bigint NOT NULL,
            table_name text NOT NULL,
            CONSTRAINT pk_data_version_marks PRIMARY KEY (txid, table_name)
        );

CREATE OR REPLACE FUNCTION sentinel_db.mark_data_version() RETURNS trigger
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp
        AS $$
        BEGIN
            -- Under row-level security with no policy that lets anything be written, the
            -- statement changed no row (Supabase's anon and authenticated): nothing to record,
            -- and those roles need no right on the versions. TRUNCATE ignores RLS.
            IF TG_OP <> 'TRUNCATE' AND row_security_active(TG_RELID) AND NOT EXISTS (
                SELECT 1 FROM pg_policies
                WHERE schemaname = TG_TABLE_SCHEMA AND tablename = TG_TABLE_NAME
                  AND cmd <> 'SELECT'
            ) THEN
                RETURN NULL;
            END IF;
            INSERT INTO sentinel_db.data_version_marks (txid, table_name)
            VALUES (pg_current_xact_id()::text::bigint, TG_TABLE_NAME)
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END
        $$;

CREATE OR REPLACE FUNCTION sentinel_db.bump_data_version() RETURNS trigger
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp
        AS $$
        BEGIN
            INSERT INTO sentinel_db.data_versions AS v (table_name, version, changed_at)
            VALUES (NEW.table_name, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, now())
            ON CONFLICT (table_name)
            DO UPDATE SET version = v.version + 1, changed_at = now();
            DELETE FROM sentinel_db.data_version_marks
            WHERE txid = NEW.txid AND table_name = NEW.table_name;
            RETURN NULL;
        END
        $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'sentinel_db_bump_at_commit' AND tgrelid = 'sentinel_db.data_version_marks'::regclass) THEN
    CREATE CONSTRAINT TRIGGER sentinel_db_bump_at_commit AFTER INSERT ON sentinel_db.data_version_marks DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sentinel_db.bump_data_version();
  END IF;
END $$;

ALTER TABLE sentinel_db.data_versions ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.data_versions FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.data_versions FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.data_versions FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.data_versions FROM service_role;
  END IF;
END $$;

ALTER TABLE sentinel_db.data_version_marks ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM service_role;
  END IF;
END $$;

INSERT INTO sentinel_db.data_versions (table_name, version) VALUES ('aws_config_rules_guidance', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint) ON CONFLICT (table_name) DO NOTHING;

CREATE TRIGGER sentinel_db_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON aws_config_rules_guidance FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.mark_data_version();

UPDATE sentinel_db_alembic_version SET version_num='data_versions_rules' WHERE sentinel_db_alembic_version.version_num = '0021';

-- Running upgrade  -> 0001

CREATE TABLE pci_dss_controls (
    id UUID DEFAULT gen_random_uuid() NOT NULL, 
    control_id VARCHAR(20) NOT NULL, 
    requirement TEXT, 
    chunk TEXT NOT NULL, 
    metadata JSONB NOT NULL, 
    CONSTRAINT pk_pci_dss_controls PRIMARY KEY (id), 
    CONSTRAINT uq_pci_dss_controls_control_id UNIQUE (control_id)
);

CREATE INDEX ix_pci_dss_controls_metadata ON pci_dss_controls USING gin (metadata);

CREATE INDEX ix_pci_dss_controls_control_category ON pci_dss_controls ((metadata ->> 'control_category'));

CREATE INDEX ix_pci_dss_controls_requirements_id ON pci_dss_controls ((metadata ->> 'requirements_id'));

INSERT INTO sentinel_db_alembic_version (version_num) VALUES ('0001') RETURNING sentinel_db_alembic_version.version_num;

-- Running upgrade 0001 -> 0005c

ALTER TABLE pci_dss_controls ADD COLUMN search_vector TSVECTOR GENERATED ALWAYS AS (to_tsvector('english'::regconfig, (((control_id)::text || ' '::text) || COALESCE(requirement, ''::text)) || ' '::text || chunk)) STORED;

CREATE INDEX ix_pci_dss_controls_search_vector ON pci_dss_controls USING gin (search_vector);

UPDATE sentinel_db_alembic_version SET version_num='0005c' WHERE sentinel_db_alembic_version.version_num = '0001';

-- Running upgrade 0005c -> 0006c

ALTER TABLE pci_dss_controls ENABLE ROW LEVEL SECURITY;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE POLICY sentinel_db_authenticated_read ON pci_dss_controls AS PERMISSIVE FOR SELECT TO authenticated USING (true);
  END IF;
END $$;

UPDATE sentinel_db_alembic_version SET version_num='0006c' WHERE sentinel_db_alembic_version.version_num = '0005c';

-- Running upgrade 0006c -> 0007c

DROP INDEX ix_pci_dss_controls_metadata;

CREATE INDEX ix_pci_dss_controls_metadata ON pci_dss_controls USING gin (metadata jsonb_path_ops);

UPDATE sentinel_db_alembic_version SET version_num='0007c' WHERE sentinel_db_alembic_version.version_num = '0006c';

-- Running upgrade 0007c -> 0008c

ALTER TABLE pci_dss_controls ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE pci_dss_controls FROM PUBLIC;

DO $$
DECLARE
  anon_read boolean := EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = to_regclass('pci_dss_controls') AND polname = 'sentinel_db_anon_read');
BEGIN
  DROP POLICY IF EXISTS sentinel_db_authenticated_read ON pci_dss_controls;
  DROP POLICY IF EXISTS sentinel_db_anon_read ON pci_dss_controls;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE pci_dss_controls FROM anon;
    IF anon_read THEN CREATE POLICY sentinel_db_anon_read ON pci_dss_controls AS PERMISSIVE FOR SELECT TO anon USING (true); GRANT SELECT ON TABLE pci_dss_controls TO anon; END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE pci_dss_controls FROM authenticated;
    CREATE POLICY sentinel_db_authenticated_read ON pci_dss_controls AS PERMISSIVE FOR SELECT TO authenticated USING (true);
    GRANT SELECT ON TABLE pci_dss_controls TO authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE pci_dss_controls FROM service_role;
    GRANT SELECT ON TABLE pci_dss_controls TO service_role;
  END IF;
END $$;

UPDATE sentinel_db_alembic_version SET version_num='0008c' WHERE sentinel_db_alembic_version.version_num = '0007c';

-- Running upgrade 0008c -> 0020

DROP INDEX IF EXISTS ix_pci_dss_controls_search_vector;

ALTER TABLE pci_dss_controls DROP COLUMN IF EXISTS search_vector;

ALTER TABLE pci_dss_controls ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (setweight(to_tsvector('english', control_id), 'A') || setweight(to_tsvector('english', regexp_replace(chunk, '[/_]+', ' ', 'g')), 'B') || setweight(to_tsvector('english', regexp_replace(coalesce(requirement, ''), '[/_]+', ' ', 'g')), 'C') || setweight(to_tsvector('english', regexp_replace(coalesce(metadata ->> 'control_category', ''), '[-/_]+', ' ', 'g')), 'D')) STORED;

CREATE INDEX ix_pci_dss_controls_search_vector ON pci_dss_controls USING gin (search_vector);

CREATE SCHEMA IF NOT EXISTS sentinel_db;

REVOKE ALL ON SCHEMA sentinel_db FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM service_role;
  END IF;
END $$;

CREATE TABLE sentinel_db.pci_dss_controls_search_terms (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, term text NOT NULL, df integer NOT NULL);

CREATE INDEX ix_pci_dss_controls_search_terms_term ON sentinel_db.pci_dss_controls_search_terms (term);

CREATE TABLE sentinel_db.pci_dss_controls_search_totals (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, docs bigint NOT NULL, lexemes bigint NOT NULL);

ALTER TABLE sentinel_db.pci_dss_controls_search_terms ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.pci_dss_controls_search_terms FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.pci_dss_controls_search_terms FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.pci_dss_controls_search_terms FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.pci_dss_controls_search_terms FROM service_role;
  END IF;
END $$;

ALTER TABLE sentinel_db.pci_dss_controls_search_totals ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.pci_dss_controls_search_totals FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.pci_dss_controls_search_totals FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.pci_dss_controls_search_totals FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.pci_dss_controls_search_totals FROM service_role;
  END IF;
END $$;

INSERT INTO sentinel_db.pci_dss_controls_search_terms (term, df) SELECT u.lexeme, count(*) FROM pci_dss_controls CROSS JOIN LATERAL unnest(search_vector) AS u GROUP BY u.lexeme;

INSERT INTO sentinel_db.pci_dss_controls_search_totals (docs, lexemes) SELECT count(*), coalesce(sum(length(search_vector)), 0) FROM pci_dss_controls;

CREATE FUNCTION sentinel_db.pci_dss_controls_search_stats() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = '' AS $fn$
DECLARE
    touched text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM sentinel_db.pci_dss_controls_search_terms;
        DELETE FROM sentinel_db.pci_dss_controls_search_totals;
    ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO sentinel_db.pci_dss_controls_search_totals (docs, lexemes)
    SELECT sum(sign), sum(sign * length(vector)) FROM (SELECT search_vector AS vector, 1 AS sign FROM new_rows) r HAVING count(*) > 0;
    IF (SELECT count(*) FROM sentinel_db.pci_dss_controls_search_totals) > 64 THEN
        WITH folded AS (
            DELETE FROM sentinel_db.pci_dss_controls_search_totals WHERE id IN (
                SELECT id FROM sentinel_db.pci_dss_controls_search_totals FOR UPDATE SKIP LOCKED
            ) RETURNING docs, lexemes
        )
        INSERT INTO sentinel_db.pci_dss_controls_search_totals (docs, lexemes)
        SELECT sum(docs), sum(lexemes) FROM folded HAVING count(*) > 0;
    END IF;
    WITH added AS (
        INSERT INTO sentinel_db.pci_dss_controls_search_terms (term, df)
        SELECT u.lexeme, sum(r.sign)::integer
        FROM (SELECT search_vector AS vector, 1 AS sign FROM new_rows) r CROSS JOIN LATERAL unnest(r.vector) AS u
        GROUP BY u.lexeme
        HAVING sum(r.sign) <> 0
        RETURNING term
    )
    SELECT array_agg(term) INTO touched FROM added;
    IF touched IS NOT NULL THEN
        WITH folded AS (
            DELETE FROM sentinel_db.pci_dss_controls_search_terms WHERE id IN (
                SELECT id FROM sentinel_db.pci_dss_controls_search_terms WHERE term = ANY (touched) FOR UPDATE SKIP LOCKED
            ) RETURNING term, df
        )
        INSERT INTO sentinel_db.pci_dss_controls_search_terms (term, df)
        SELECT term, sum(df) FROM folded GROUP BY term HAVING sum(df) <> 0;
    END IF;
    ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO sentinel_db.pci_dss_controls_search_totals (docs, lexemes)
    SELECT sum(sign), sum(sign * length(vector)) FROM (SELECT search_vector AS vector, -1 AS sign FROM old_rows) r HAVING count(*) > 0;
    IF (SELECT count(*) FROM sentinel_db.pci_dss_controls_search_totals) > 64 THEN
        WITH folded AS (
            DELETE FROM sentinel_db.pci_dss_controls_search_totals WHERE id IN (
                SELECT id FROM sentinel_db.pci_dss_controls_search_totals FOR UPDATE SKIP LOCKED
            ) RETURNING docs, lexemes
        )
        INSERT INTO sentinel_db.pci_dss_controls_search_totals (docs, lexemes)
        SELECT sum(docs), sum(lexemes) FROM folded HAVING count(*) > 0;
    END IF;
    WITH added AS (
        INSERT INTO sentinel_db.pci_dss_controls_search_terms (term, df)
        SELECT u.lexeme, sum(r.sign)::integer
        FROM (SELECT search_vector AS vector, -1 AS sign FROM old_rows) r CROSS JOIN LATERAL unnest(r.vector) AS u
        GROUP BY u.lexeme
        HAVING sum(r.sign) <> 0
        RETURNING term
    )
    SELECT array_agg(term) INTO touched FROM added;
    IF touched IS NOT NULL THEN
        WITH folded AS (
            DELETE FROM sentinel_db.pci_dss_controls_search_terms WHERE id IN (
                SELECT id FROM sentinel_db.pci_dss_controls_search_terms WHERE term = ANY (touched) FOR UPDATE SKIP LOCKED
            ) RETURNING term, df
        )
        INSERT INTO sentinel_db.pci_dss_controls_search_terms (term, df)
        SELECT term, sum(df) FROM folded GROUP BY term HAVING sum(df) <> 0;
    END IF;
    ELSE
    INSERT INTO sentinel_db.pci_dss_controls_search_totals (docs, lexemes)
    SELECT sum(sign), sum(sign * length(vector)) FROM (SELECT search_vector AS vector, 1 AS sign FROM new_rows UNION ALL SELECT search_vector AS vector, -1 AS sign FROM old_rows) r HAVING count(*) > 0;
    IF (SELECT count(*) FROM sentinel_db.pci_dss_controls_search_totals) > 64 THEN
        WITH folded AS (
            DELETE FROM sentinel_db.pci_dss_controls_search_totals WHERE id IN (
                SELECT id FROM sentinel_db.pci_dss_controls_search_totals FOR UPDATE SKIP LOCKED
            ) RETURNING docs, lexemes
        )
        INSERT INTO sentinel_db.pci_dss_controls_search_totals (docs, lexemes)
        SELECT sum(docs), sum(lexemes) FROM folded HAVING count(*) > 0;
    END IF;
    WITH added AS (
        INSERT INTO sentinel_db.pci_dss_controls_search_terms (term, df)
        SELECT u.lexeme, sum(r.sign)::integer
        FROM (SELECT search_vector AS vector, 1 AS sign FROM new_rows UNION ALL SELECT search_vector AS vector, -1 AS sign FROM old_rows) r CROSS JOIN LATERAL unnest(r.vector) AS u
        GROUP BY u.lexeme
        HAVING sum(r.sign) <> 0
        RETURNING term
    )
    SELECT array_agg(term) INTO touched FROM added;
    IF touched IS NOT NULL THEN
        WITH folded AS (
            DELETE FROM sentinel_db.pci_dss_controls_search_terms WHERE id IN (
                SELECT id FROM sentinel_db.pci_dss_controls_search_terms WHERE term = ANY (touched) FOR UPDATE SKIP LOCKED
            ) RETURNING term, df
        )
        INSERT INTO sentinel_db.pci_dss_controls_search_terms (term, df)
        SELECT term, sum(df) FROM folded GROUP BY term HAVING sum(df) <> 0;
    END IF;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER pci_dss_controls_search_stats_insert AFTER INSERT ON pci_dss_controls REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.pci_dss_controls_search_stats();

CREATE TRIGGER pci_dss_controls_search_stats_update AFTER UPDATE ON pci_dss_controls REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.pci_dss_controls_search_stats();

CREATE TRIGGER pci_dss_controls_search_stats_delete AFTER DELETE ON pci_dss_controls REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.pci_dss_controls_search_stats();

CREATE TRIGGER pci_dss_controls_search_stats_truncate AFTER TRUNCATE ON pci_dss_controls  FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.pci_dss_controls_search_stats();

UPDATE sentinel_db_alembic_version SET version_num='0020' WHERE sentinel_db_alembic_version.version_num = '0008c';

-- Running upgrade 0020 -> data_versions_controls

CREATE SCHEMA IF NOT EXISTS sentinel_db;

REVOKE ALL ON SCHEMA sentinel_db FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON SCHEMA sentinel_db FROM service_role;
  END IF;
END $$;

CREATE TABLE IF NOT EXISTS sentinel_db.data_versions (
            table_name text NOT NULL,
            version bigint NOT NULL,
            changed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_data_versions PRIMARY KEY (table_name)
        );

CREATE TABLE IF NOT EXISTS sentinel_db.data_version_marks (
            txid bigint NOT NULL,
            table_name text NOT NULL,
            CONSTRAINT pk_data_version_marks PRIMARY KEY (txid, table_name)
        );

CREATE OR REPLACE FUNCTION sentinel_db.mark_data_version() RETURNS trigger
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp
        AS $$
        BEGIN
            -- Under row-level security with no policy that lets anything be written, the
            -- statement changed no row (Supabase's anon and authenticated): nothing to record,
            -- and those roles need no right on the versions. TRUNCATE ignores RLS.
            IF TG_OP <> 'TRUNCATE' AND row_security_active(TG_RELID) AND NOT EXISTS (
                SELECT 1 FROM pg_policies
                WHERE schemaname = TG_TABLE_SCHEMA AND tablename = TG_TABLE_NAME
                  AND cmd <> 'SELECT'
            ) THEN
                RETURN NULL;
            END IF;
            INSERT INTO sentinel_db.data_version_marks (txid, table_name)
            VALUES (pg_current_xact_id()::text::bigint, TG_TABLE_NAME)
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END
        $$;

CREATE OR REPLACE FUNCTION sentinel_db.bump_data_version() RETURNS trigger
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp
        AS $$
        BEGIN
            INSERT INTO sentinel_db.data_versions AS v (table_name, version, changed_at)
            VALUES (NEW.table_name, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, now())
            ON CONFLICT (table_name)
            DO UPDATE SET version = v.version + 1, changed_at = now();
            DELETE FROM sentinel_db.data_version_marks
            WHERE txid = NEW.txid AND table_name = NEW.table_name;
            RETURN NULL;
        END
        $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'sentinel_db_bump_at_commit' AND tgrelid = 'sentinel_db.data_version_marks'::regclass) THEN
    CREATE CONSTRAINT TRIGGER sentinel_db_bump_at_commit AFTER INSERT ON sentinel_db.data_version_marks DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sentinel_db.bump_data_version();
  END IF;
END $$;

ALTER TABLE sentinel_db.data_versions ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.data_versions FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.data_versions FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.data_versions FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.data_versions FROM service_role;
  END IF;
END $$;

ALTER TABLE sentinel_db.data_version_marks ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON TABLE sentinel_db.data_version_marks FROM service_role;
  END IF;
END $$;

INSERT INTO sentinel_db.data_versions (table_name, version) VALUES ('pci_dss_controls', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint) ON CONFLICT (table_name) DO NOTHING;

CREATE TRIGGER sentinel_db_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pci_dss_controls FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.mark_data_version();

UPDATE sentinel_db_alembic_version SET version_num='data_versions_controls' WHERE sentinel_db_alembic_version.version_num = '0020';

-- Running upgrade 0007c, 0007r, 0007m, 0006b -> 0007

INSERT INTO sentinel_db_alembic_version (version_num) VALUES ('0007') RETURNING sentinel_db_alembic_version.version_num;

-- Running upgrade 0007, data_versions_controls, data_versions_rules, data_versions_mappings, import_run_figures -> 0008h

DELETE FROM sentinel_db_alembic_version WHERE sentinel_db_alembic_version.version_num = '0007';

DELETE FROM sentinel_db_alembic_version WHERE sentinel_db_alembic_version.version_num = 'data_versions_controls';

DELETE FROM sentinel_db_alembic_version WHERE sentinel_db_alembic_version.version_num = 'data_versions_rules';

DELETE FROM sentinel_db_alembic_version WHERE sentinel_db_alembic_version.version_num = 'data_versions_mappings';

UPDATE sentinel_db_alembic_version SET version_num='0008h' WHERE sentinel_db_alembic_version.version_num = 'import_run_figures';

COMMIT;

