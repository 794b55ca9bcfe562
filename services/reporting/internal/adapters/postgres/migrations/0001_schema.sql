-- The reporting service owns the "reporting" schema (DESIGN §4); migrate.Apply creates it
-- and its schema_migrations table. Tables come in later files.
COMMENT ON SCHEMA reporting IS 'Kesu reporting service: builds the season metrics and the 315 aftermath report, and owns the bi views';
