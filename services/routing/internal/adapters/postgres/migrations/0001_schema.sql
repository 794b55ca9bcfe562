-- The routing service owns the "routing" schema (DESIGN §4); migrate.Apply creates it
-- and its schema_migrations table. Tables come in later files.
COMMENT ON SCHEMA routing IS 'Kesu routing service: places complaints in queues and runs the work of agents: assignment, claims, transfers, responses, remedies, resolution';
