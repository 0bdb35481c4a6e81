-- 30_retention.sql
--
-- Retention of raw telemetry (personal data should not be kept for ever). The procedure
-- public.purge_chat_telemetry deletes rows older than N whole UTC days in batches, committing
-- after each, and records the purge's watermark in public.chat_telemetry_purges first, so
-- that dbt refuses a `--full-refresh` that would rebuild the marts from what is left and
-- silently lose older history. The marts keep every day they built (docs/operations.md).
--
-- Run it as the table owner (postgres on Supabase): from `python -m chat_telemetry purge`, or
-- scheduled with pg_cron (deploy/supabase_pg_cron_purge.sql). It is idempotent; a Supabase
-- migration as it stands.

create table if not exists public.chat_telemetry_purges (
    purge_id bigint generated always as identity primary key,
    purged_before timestamptz not null,
    rows_deleted bigint not null default 0 check (rows_deleted >= 0),
    started_at timestamptz not null default now(),
    finished_at timestamptz
);

comment on table public.chat_telemetry_purges is
'One row per retention purge of chat_telemetry_log: rows created before purged_before were deleted.';

alter table public.chat_telemetry_purges enable row level security;
revoke all on table public.chat_telemetry_purges from public, anon, authenticated;
grant select on table public.chat_telemetry_purges to service_role;

-- No `set search_path` clause: a procedure that has one cannot commit. Every name is
-- schema-qualified instead.
create or replace procedure public.purge_chat_telemetry(
    older_than_days integer,
    batch_size integer default 10000,
    minimum_days integer default 10
)
language plpgsql
as $purge$
declare
    cutoff timestamptz;
    this_purge bigint;
    deleted bigint;
    total bigint := 0;
begin
    if older_than_days is null or older_than_days < minimum_days then
        raise exception using
            errcode = '22023',
            message = pg_catalog.format(
                'purge_chat_telemetry: older_than_days must be at least %s (got %s)',
                minimum_days, older_than_days
            ),
            hint = 'The marts rebuild the last lookback_days days from raw rows on every run: '
                || 'keep those days plus a margin for a paused schedule.';
    end if;
    if batch_size is null or batch_size < 1 then
        raise exception using errcode = '22023', message = 'purge_chat_telemetry: batch_size must be positive';
    end if;

    -- Whole UTC days: the watermark is a midnight, the same for every run of one day.
    cutoff := (pg_catalog.date_trunc('day', pg_catalog.now() at time zone 'UTC')
        - pg_catalog.make_interval(days => older_than_days)) at time zone 'UTC';

    insert into public.chat_telemetry_purges (purged_before)
    values (cutoff)
    returning purge_id into this_purge;
    commit;

    loop
        delete from public.chat_telemetry_log
        where log_id in (
            select log_id
            from public.chat_telemetry_log
            where created_at < cutoff
            limit batch_size
        );
        get diagnostics deleted = row_count;
        total := total + deleted;
        update public.chat_telemetry_purges
        set rows_deleted = total
        where purge_id = this_purge;
        commit;
        exit when deleted < batch_size;
    end loop;

    update public.chat_telemetry_purges
    set finished_at = pg_catalog.now()
    where purge_id = this_purge;
    commit;
end
$purge$;

revoke all on procedure public.purge_chat_telemetry(integer, integer, integer) from public;
