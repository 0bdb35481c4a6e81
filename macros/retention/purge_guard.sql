{#-
    Raw telemetry may be purged for retention (`python -m chat_telemetry purge`, or the pg_cron
    job in deploy/supabase_pg_cron_purge.sql); each purge records its watermark in
    chat_telemetry_purges beside the raw table. Incremental models keep the days they built,
    so the marts outlive the raw rows; a full refresh would rebuild them from what is left.
-#}

{#- The newest purge watermark (rows before it are gone), or none when nothing was purged. -#}
{% macro raw_purge_watermark() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set purges = adapter.get_relation(
        database=target.get("database"),
        schema=raw_schema(),
        identifier='chat_telemetry_purges',
    ) -%}
    {%- if purges is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set watermark = run_query('select max(purged_before) from ' ~ purges).columns[0].values()[0] -%}
    {{ return(watermark) }}
{%- endmacro %}

{#- on-run-start: a full refresh after a purge would silently shrink history, so refuse it. -#}
{% macro refuse_full_refresh_after_purge() -%}
    {%- if not is_building_models() or not flags.FULL_REFRESH -%}
        {{ return('') }}
    {%- endif -%}
    {%- set purged_before = raw_purge_watermark() -%}
    {%- if purged_before is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- if telemetry_var('allow_history_loss') | string | lower in ('true', '1', 'yes') -%}
        {{ log('allow_history_loss: the full refresh drops mart history before ' ~ purged_before ~ ' (raw rows purged)', info=true) }}
        {{ return('') }}
    {%- endif -%}
    {%- set message -%}
Refusing --full-refresh: raw telemetry before {{ purged_before }} was purged (see {{ raw_schema() }}.chat_telemetry_purges), and a full refresh rebuilds the daily marts from raw rows only, so every day before then would be lost. Run `dbt build` without --full-refresh: it keeps that history, reprices all of it and rebuilds the last lookback_days days. To rebuild from the remaining rows anyway and drop older history, add --vars '{allow_history_loss: true}'.
    {%- endset -%}
    {%- do exceptions.raise_compiler_error(message) -%}
{%- endmacro %}
