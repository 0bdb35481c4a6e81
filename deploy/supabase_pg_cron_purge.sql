-- Purge raw chat telemetry older than 90 days, every night at 03:17 UTC, with Supabase's
-- pg_cron (Database > Extensions > pg_cron, then run this in the SQL editor as postgres).
-- The procedure comes from bootstrap_sql/30_retention.sql: it deletes in batches of 10,000,
-- commits after each, and records the watermark that keeps `dbt build --full-refresh` from
-- silently shrinking the marts' history. It refuses fewer than 10 days (lookback_days 3 plus
-- a week for a paused dbt schedule); change the third argument only with lookback_days.
--
-- Check what it would delete first:
--     select count(*) from public.chat_telemetry_log
--     where created_at < date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'
--         - interval '90 days';
-- Watch it:  select * from public.chat_telemetry_purges order by purge_id desc;
-- Stop it:   select cron.unschedule('chat-telemetry-purge');

create extension if not exists pg_cron;

select cron.schedule(
    'chat-telemetry-purge',
    '17 3 * * *',
    $$call public.purge_chat_telemetry(90, 10000, 10)$$
);
