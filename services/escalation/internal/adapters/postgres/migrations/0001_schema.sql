-- The escalation service owns the "escalation" schema (DESIGN §4); migrate.Apply creates it
-- and its schema_migrations table. Tables come in later files.
COMMENT ON SCHEMA escalation IS 'Kesu escalation service: runs the SLA clocks: deadlines, warnings, breaches, the escalation ladder and war-room alerts';
