-- 20_bi_reader_role.sql
--
-- The read-only role that BI tools use. dbt grants it SELECT on the marts (and USAGE on their
-- schema) and nothing else: it never sees raw telemetry or the internal models.
-- NOLOGIN on purpose: give it to a login role of your BI tool with
--     create role metabase login password '...' in role bi_reader;
-- The name comes from the setting chat_telemetry.bi_role (default bi_reader), which the
-- bootstrap command sets from CHAT_TELEMETRY_BI_ROLE.

do $bi_role$
declare
    role_name text := coalesce(
        nullif(current_setting('chat_telemetry.bi_role', true), ''), 'bi_reader'
    );
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = role_name) then
        execute format('create role %I nologin noinherit', role_name);
    end if;
    execute format('revoke all on table public.chat_telemetry_log from %I', role_name);
end
$bi_role$;
