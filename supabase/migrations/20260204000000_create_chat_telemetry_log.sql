-- 10_chat_telemetry_log.sql
--
-- The raw telemetry table: one row per chat request. This file is a Supabase migration as it
-- stands (it needs auth.users, public.chat_conversations and the service_role role, which
-- Supabase has and 00_supabase_compat.sql creates elsewhere). It is idempotent.
--
-- The rows hold user questions (personal data): row-level security is on with no policy, every
-- privilege is revoked from public, anon and authenticated, and only service_role (BYPASSRLS)
-- may insert and read.

create table if not exists public.chat_telemetry_log (
    log_id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    conversation_id uuid references public.chat_conversations (conversation_id) on delete set null,
    response_id text,
    created_at timestamptz not null default now(),
    user_question text not null,
    ai_response text,
    generated_sql text,
    sql_fingerprint text,
    result_row_count integer,
    follow_up_suggestions jsonb,
    error_type text,
    error_message text,
    failed_step text,
    is_off_topic boolean not null default false,
    sql_model text,
    response_model text,
    nl_to_sql_duration_ms integer,
    sql_execution_duration_ms integer,
    response_generation_duration_ms integer,
    ttfb_ms integer,
    sql_input_tokens integer,
    sql_output_tokens integer,
    sql_cached_tokens integer,
    response_input_tokens integer,
    response_output_tokens integer,
    response_cached_tokens integer,
    sql_service_tier text,
    response_service_tier text,
    sql_cache_write_tokens integer,
    response_cache_write_tokens integer,
    constraint chat_telemetry_log_error_type_check check (
        error_type in (
            'sql_generation', 'sql_validation', 'sql_execution', 'response_generation', 'unexpected'
        )
    ),
    constraint chat_telemetry_log_failed_step_check check (
        failed_step in ('understanding', 'looking_up', 'response')
    ),
    constraint chat_telemetry_log_follow_ups_array_check check (
        follow_up_suggestions is null or jsonb_typeof(follow_up_suggestions) = 'array'
    ),
    constraint chat_telemetry_log_non_negative_check check (
        result_row_count >= 0
        and nl_to_sql_duration_ms >= 0
        and sql_execution_duration_ms >= 0
        and response_generation_duration_ms >= 0
        and ttfb_ms >= 0
        and sql_input_tokens >= 0
        and sql_output_tokens >= 0
        and sql_cached_tokens >= 0
        and response_input_tokens >= 0
        and response_output_tokens >= 0
        and response_cached_tokens >= 0
    )
);

-- Billing modes (service tier, prompt-cache writes), added after the first 27 columns: a table
-- created before them gets them here, nullable (NULL tier = default, NULL cache writes = none).
alter table public.chat_telemetry_log
add column if not exists sql_service_tier text,
add column if not exists response_service_tier text,
add column if not exists sql_cache_write_tokens integer,
add column if not exists response_cache_write_tokens integer;

do $cache_write_check$
begin
    if not exists (
        select 1 from pg_catalog.pg_constraint
        where
            conrelid = 'public.chat_telemetry_log'::regclass
            and conname = 'chat_telemetry_log_cache_write_non_negative_check'
    ) then
        alter table public.chat_telemetry_log
        add constraint chat_telemetry_log_cache_write_non_negative_check check (
            sql_cache_write_tokens >= 0 and response_cache_write_tokens >= 0
        );
    end if;
end
$cache_write_check$;

comment on table public.chat_telemetry_log is
'One row per chat request: question, generated SQL, answer, errors, models, step durations, '
'token usage and billing modes (service tier, cache writes). Holds personal data: only '
'service_role may read it.';

create index if not exists idx_chat_telemetry_created_at
on public.chat_telemetry_log (created_at desc);

create index if not exists idx_chat_telemetry_user_id
on public.chat_telemetry_log (user_id, created_at desc);

create index if not exists idx_chat_telemetry_error
on public.chat_telemetry_log (error_type) where error_type is not null;

create index if not exists idx_chat_telemetry_fingerprint
on public.chat_telemetry_log (sql_fingerprint) where sql_fingerprint is not null;

-- The fingerprint groups one query's whitespace and case variants. The trigger owns the
-- column: whatever a client sends is overwritten. An md5 hex digest, never the raw SQL,
-- keeps the index entries far below the b-tree limit (about 2.7 kB).
create or replace function public.chat_telemetry_set_sql_fingerprint()
returns trigger
language plpgsql
set search_path = ''
as $fingerprint$
begin
    if new.generated_sql is null then
        new.sql_fingerprint := null;
    else
        new.sql_fingerprint := pg_catalog.md5(
            pg_catalog.lower(pg_catalog.regexp_replace(new.generated_sql, '\s+', ' ', 'g'))
        );
    end if;
    return new;
end
$fingerprint$;

revoke all on function public.chat_telemetry_set_sql_fingerprint() from public;

create or replace trigger trg_chat_telemetry_sql_fingerprint
before insert on public.chat_telemetry_log
for each row execute function public.chat_telemetry_set_sql_fingerprint();

alter table public.chat_telemetry_log enable row level security;

revoke all on table public.chat_telemetry_log from public, anon, authenticated;
grant insert, select on table public.chat_telemetry_log to service_role;
