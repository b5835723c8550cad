-- restoredrill reapply of restoredrill-recover-20261201T061722Z.json
-- made 2026-12-01T06:17:25.776464+00:00 for user=postgres dbname=postgres host=/tmp/restoredrill-test-sandboxes-32292/postgres-20261201061658-32292-9f8b8f/socket port=43743 (database postgres)
-- diff mode: incident; rows selected: 0 (--only all)
-- Each batch: its rows are loaded (COPY, data inline) into a temporary table dropped
-- at COMMIT, production's rows with those keys are locked, then written by set:
-- Lost rows: INSERT ... ON CONFLICT (key) DO NOTHING.
-- Changed rows: UPDATE only while every compared column still holds its post-incident
-- value (text form under the settings below); the current version is archived first.
-- Idempotent: running it again changes nothing. Rows only in production are untouched.

SELECT pg_catalog.set_config('TimeZone', 'UTC', false);
SELECT pg_catalog.set_config('DateStyle', 'ISO, MDY', false);
SELECT pg_catalog.set_config('IntervalStyle', 'postgres', false);
SELECT pg_catalog.set_config('extra_float_digits', '3', false);
SELECT pg_catalog.set_config('bytea_output', 'hex', false);
SELECT pg_catalog.set_config('lc_monetary', 'C', false);

