-- The followup service owns the "followup" schema (DESIGN §4); migrate.Apply creates it
-- and its schema_migrations table. Tables come in later files.
COMMENT ON SCHEMA followup IS 'Kesu followup service: schedules follow-up calls (回访) after resolution, records satisfaction, reopens and closes complaints';
