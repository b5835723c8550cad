-- restoredrill reapply of restoredrill-recover-20261201T061844Z.json
-- made 2026-12-01T06:18:47.502844+00:00 for user=postgres dbname=postgres host=/tmp/restoredrill-test-sandboxes-1197/postgres-20261201061816-1197-83f47a/socket port=42893 (database postgres)
-- diff mode: incident; rows selected: 30 (--only all)
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

-- public.acct: batch 1 (rows 1-30 of 30)
BEGIN;
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '5min';
CREATE TEMPORARY TABLE restoredrill_stage ON COMMIT DROP AS SELECT NULL::pg_catalog.int4 AS "restoredrill_n", NULL::pg_catalog.int4 AS "restoredrill_sig", t."id" AS "v0", t."owner" AS "v1", NULL::pg_catalog.text AS "g0" FROM "public"."acct" AS t WITH NO DATA;
COPY "pg_temp"."restoredrill_stage" ("restoredrill_n", "restoredrill_sig", "v0", "v1", "g0") FROM STDIN;
0	\N	1	owner 1	\N
1	\N	2	owner 2	\N
2	\N	3	owner 3	\N
3	\N	4	owner 4	\N
4	\N	5	owner 5	\N
5	\N	6	owner 6	\N
6	\N	7	owner 7	\N
7	\N	8	owner 8	\N
8	\N	9	owner 9	\N
9	\N	10	owner 10	\N
10	\N	11	owner 11	\N
11	\N	12	owner 12	\N
12	\N	13	owner 13	\N
13	\N	14	owner 14	\N
14	\N	15	owner 15	\N
15	\N	16	owner 16	\N
16	\N	17	owner 17	\N
17	\N	18	owner 18	\N
18	\N	19	owner 19	\N
19	\N	20	owner 20	\N
20	\N	21	owner 21	\N
21	\N	22	owner 22	\N
22	\N	23	owner 23	\N
23	\N	24	owner 24	\N
24	\N	25	owner 25	\N
25	\N	26	owner 26	\N
26	\N	27	owner 27	\N
27	\N	28	owner 28	\N
28	\N	29	owner 29	\N
29	\N	30	owner 30	\N
\.
ANALYZE "pg_temp"."restoredrill_stage";
INSERT INTO "public"."acct" AS t ("id", "owner") SELECT s."v0", s."v1" FROM "pg_temp"."restoredrill_stage" AS s WHERE s."restoredrill_sig" IS NULL ORDER BY s."restoredrill_n" ON CONFLICT ("id") DO NOTHING RETURNING t."id"::text;
COMMIT;

