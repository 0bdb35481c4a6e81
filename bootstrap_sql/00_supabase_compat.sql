-- 00_supabase_compat.sql
--
-- What Supabase already has and plain Postgres does not: the three API roles, the auth schema
-- with auth.users, and the chat's own conversations table that the telemetry refers to.
-- Everything is created only where missing, so on Supabase this file changes nothing, and
-- applying it twice leaves the catalog exactly as applying it once.

do $compat$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;

    if not exists (select 1 from pg_catalog.pg_namespace where nspname = 'auth') then
        create schema auth;
    end if;

    if to_regclass('auth.users') is null then
        create table auth.users (
            id uuid primary key default gen_random_uuid(),
            email text,
            created_at timestamptz not null default now()
        );
    end if;

    if to_regclass('public.chat_conversations') is null then
        create table public.chat_conversations (
            conversation_id uuid primary key default gen_random_uuid(),
            user_id uuid references auth.users (id) on delete cascade,
            title text,
            created_at timestamptz not null default now()
        );
    end if;
end
$compat$;
