-- 40_telemetry_loader_role.sql
--
-- The role that lands raw telemetry into a lakehouse for the Spark engine (README: Running on
-- Spark). It reads only what the marts need: ids, times, models, tokens, durations, error
-- types, the generated SQL and its fingerprint (fct_sql_fingerprints shows the latest SQL),
-- never the question, the answer, the follow-ups or the error message. Column privileges
-- enforce that: `select *` fails for this role. It sees every row through a read-only policy
-- (no BYPASSRLS), the ids of existing users (what erasure keys on) and the purge watermarks.
-- NOLOGIN on purpose: give it to your loader's login role with
--     create role spark_loader login password '...' in role telemetry_loader;
-- (the embedded server's `make spark-build` makes one itself, with a generated password).

do $loader_role$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'telemetry_loader') then
        create role telemetry_loader nologin noinherit;
    end if;
end
$loader_role$;

revoke all on table public.chat_telemetry_log from telemetry_loader;
grant select (
    log_id,
    user_id,
    conversation_id,
    response_id,
    created_at,
    generated_sql,
    sql_fingerprint,
    result_row_count,
    error_type,
    failed_step,
    is_off_topic,
    sql_model,
    response_model,
    nl_to_sql_duration_ms,
    sql_execution_duration_ms,
    response_generation_duration_ms,
    ttfb_ms,
    sql_input_tokens,
    sql_output_tokens,
    sql_cached_tokens,
    response_input_tokens,
    response_output_tokens,
    response_cached_tokens,
    sql_service_tier,
    response_service_tier,
    sql_cache_write_tokens,
    response_cache_write_tokens
) on table public.chat_telemetry_log to telemetry_loader;

drop policy if exists telemetry_loader_reads on public.chat_telemetry_log;
create policy telemetry_loader_reads on public.chat_telemetry_log
for select to telemetry_loader using (true);

grant usage on schema auth to telemetry_loader;
grant select (id) on table auth.users to telemetry_loader;

grant select on table public.chat_telemetry_purges to telemetry_loader;
drop policy if exists telemetry_loader_reads on public.chat_telemetry_purges;
create policy telemetry_loader_reads on public.chat_telemetry_purges
for select to telemetry_loader using (true);

-- Answer quality (a suggested follow-up taken) compares the next question with the previous
-- answer's suggestions, which needs the text. The loader never reads it: this view gives md5
-- hashes of the normalised question and of each suggestion (lowercased, trimmed, runs of
-- whitespace as one space: what models/staging computes on Postgres with
-- normalised_text_hash), by log_id. The view runs with its owner's rights (the table owner,
-- which row-level security does not restrict), so the loader needs no privilege on the text
-- columns; only the loader may read it.
create or replace view public.chat_telemetry_log_text_hashes as
select
    log.log_id,
    pg_catalog.md5(
        pg_catalog.btrim(
            pg_catalog.lower(pg_catalog.regexp_replace(log.user_question, '\s+', ' ', 'g'))
        )
    ) as question_hash,
    pg_catalog.array_to_string(array(
        select
            pg_catalog.md5(
                pg_catalog.btrim(
                    pg_catalog.lower(pg_catalog.regexp_replace(suggestion.value, '\s+', ' ', 'g'))
                )
            )
        from pg_catalog.jsonb_array_elements_text(
            case
                when pg_catalog.jsonb_typeof(log.follow_up_suggestions) = 'array'
                    then log.follow_up_suggestions
                else '[]'::jsonb
            end
        ) with ordinality as suggestion (value, position)
        order by suggestion.position
    ), ',') as follow_up_suggestion_hashes
from public.chat_telemetry_log as log;

comment on view public.chat_telemetry_log_text_hashes is
'md5 of the normalised question and of each follow-up suggestion, never the text: what the '
'Spark landing reads to tell a followed suggestion. Only telemetry_loader may read it.';

revoke all on table public.chat_telemetry_log_text_hashes from public, anon, authenticated;
grant select on table public.chat_telemetry_log_text_hashes to telemetry_loader;
