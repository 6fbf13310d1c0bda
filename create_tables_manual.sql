BEGIN;

CREATE TABLE sentinel_db_alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT sentinel_db_alembic_version_pkc PRIMARY KEY (version_num)
);

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

-- Running upgrade 0001 -> 0002

CREATE TABLE aws_config_rules_guidance (
    id UUID DEFAULT gen_random_uuid() NOT NULL, 
    config_rule VARCHAR(100) NOT NULL, 
    chunk TEXT NOT NULL, 
    metadata JSONB NOT NULL, 
    CONSTRAINT pk_aws_config_rules_guidance PRIMARY KEY (id), 
    CONSTRAINT uq_aws_config_rules_guidance_config_rule UNIQUE (config_rule)
);

CREATE INDEX ix_aws_config_rules_guidance_metadata ON aws_config_rules_guidance USING gin (metadata);

UPDATE sentinel_db_alembic_version SET version_num='0002' WHERE sentinel_db_alembic_version.version_num = '0001';

-- Running upgrade 0002 -> 0003

CREATE TABLE pci_aws_config_rule_mappings (
    id UUID DEFAULT gen_random_uuid() NOT NULL, 
    control_id VARCHAR(20) NOT NULL, 
    config_rules JSONB NOT NULL, 
    CONSTRAINT pk_pci_aws_config_rule_mappings PRIMARY KEY (id), 
    CONSTRAINT uq_pci_aws_config_rule_mappings_control_id UNIQUE (control_id)
);

CREATE INDEX ix_pci_aws_config_rule_mappings_config_rules ON pci_aws_config_rule_mappings USING gin (config_rules);

UPDATE sentinel_db_alembic_version SET version_num='0003' WHERE sentinel_db_alembic_version.version_num = '0002';

-- Running upgrade 0003 -> 0004

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

UPDATE sentinel_db_alembic_version SET version_num='0004' WHERE sentinel_db_alembic_version.version_num = '0003';

-- Running upgrade 0004 -> 0005

ALTER TABLE pci_dss_controls ADD COLUMN search_vector TSVECTOR GENERATED ALWAYS AS (to_tsvector('english'::regconfig, (((control_id)::text || ' '::text) || COALESCE(requirement, ''::text)) || ' '::text || chunk)) STORED;

CREATE INDEX ix_pci_dss_controls_search_vector ON pci_dss_controls USING gin (search_vector);

ALTER TABLE aws_config_rules_guidance ADD COLUMN search_vector TSVECTOR GENERATED ALWAYS AS (to_tsvector('english'::regconfig, ((replace((config_rule)::text, '-'::text, ' '::text) || ' '::text) || chunk))) STORED;

CREATE INDEX ix_aws_config_rules_guidance_search_vector ON aws_config_rules_guidance USING gin (search_vector);

UPDATE sentinel_db_alembic_version SET version_num='0005' WHERE sentinel_db_alembic_version.version_num = '0004';

-- Running upgrade 0005 -> 0006

ALTER TABLE pci_dss_controls ENABLE ROW LEVEL SECURITY;

ALTER TABLE aws_config_rules_guidance ENABLE ROW LEVEL SECURITY;

ALTER TABLE pci_aws_config_rule_mappings ENABLE ROW LEVEL SECURITY;

ALTER TABLE import_runs ENABLE ROW LEVEL SECURITY;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE POLICY sentinel_db_authenticated_read ON pci_dss_controls AS PERMISSIVE FOR SELECT TO authenticated USING (true);
    CREATE POLICY sentinel_db_authenticated_read ON aws_config_rules_guidance AS PERMISSIVE FOR SELECT TO authenticated USING (true);
    CREATE POLICY sentinel_db_authenticated_read ON pci_aws_config_rule_mappings AS PERMISSIVE FOR SELECT TO authenticated USING (true);
  END IF;
END $$;

UPDATE sentinel_db_alembic_version SET version_num='0006' WHERE sentinel_db_alembic_version.version_num = '0005';

-- Running upgrade 0006 -> 0007

DROP INDEX ix_pci_dss_controls_metadata;

CREATE INDEX ix_pci_dss_controls_metadata ON pci_dss_controls USING gin (metadata jsonb_path_ops);

DROP INDEX ix_aws_config_rules_guidance_metadata;

CREATE INDEX ix_aws_config_rules_guidance_metadata ON aws_config_rules_guidance USING gin (metadata jsonb_path_ops);

DROP INDEX ix_pci_aws_config_rule_mappings_config_rules;

CREATE INDEX ix_pci_aws_config_rule_mappings_config_rules ON pci_aws_config_rule_mappings USING gin (config_rules jsonb_path_ops);

UPDATE sentinel_db_alembic_version SET version_num='0007' WHERE sentinel_db_alembic_version.version_num = '0006';

COMMIT;

