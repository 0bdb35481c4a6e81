{#-
    The configuration every daily incremental model shares. Models call
    `{{ config(**daily_incremental_config()) }}`; `forget_erased_users=true` adds the post-hook
    that forgets users missing from auth.users (macros/retention/forget_erased_users.sql;
    `log_forgotten_days=true` also logs the days it forgot someone on); `reprice=true` (the cost
    marts) also rebuilds the days whose prices changed and records the prices applied,
    `rebuild_forgotten_days=true` the days logged as forgotten
    (macros/incremental/repriced_days.sql). On Postgres, the custom strategy `replace_days`
    (replace_days_strategy.sql; `indexed=true` adds an index on request_date for large
    intermediate tables, whose delete would otherwise scan them; `extra_indexes` one index
    per column named, for models read by another key); on Spark, an insert_overwrite of
    request_date partitions with the hooks of macros/spark/day_partitions.sql.
-#}
{% macro daily_incremental_config(
    indexed=false, forget_erased_users=false, log_forgotten_days=false, reprice=false,
    rebuild_forgotten_days=false, extra_indexes=[]
) -%}
    {%- set settings = adapter.dispatch('daily_incremental_config', 'chat_telemetry')(
        indexed, forget_erased_users, log_forgotten_days, extra_indexes
    ) -%}
    {%- set post_hooks = settings.get('post_hook', []) -%}
    {%- if reprice -%}
        {%- do post_hooks.append('{{ record_applied_prices() }}') -%}
    {%- endif -%}
    {%- if rebuild_forgotten_days -%}
        {%- do post_hooks.append('{{ consume_forgotten_days() }}') -%}
    {%- endif -%}
    {%- if post_hooks -%}
        {%- do settings.update({'post_hook': post_hooks}) -%}
    {%- endif -%}
    {%- if reprice or rebuild_forgotten_days or forget_erased_users -%}
        {%- do settings.update({'meta': {
            'chat_telemetry_reprice': reprice,
            'chat_telemetry_rebuild_forgotten_days': rebuild_forgotten_days,
            'chat_telemetry_forgets_erased_users': 'request_date' if forget_erased_users else none,
        }}) -%}
    {%- endif -%}
    {{ return(settings) }}
{%- endmacro %}

{% macro default__daily_incremental_config(
    indexed, forget_erased_users, log_forgotten_days, extra_indexes=[]
) -%}
    {%- set settings = {
        'materialized': 'incremental',
        'incremental_strategy': 'replace_days',
        'on_schema_change': 'append_new_columns',
    } -%}
    {%- set indexes = [{'columns': ['request_date']}] if indexed else [] -%}
    {%- for column in extra_indexes -%}
        {%- do indexes.append({'columns': [column]}) -%}
    {%- endfor -%}
    {%- if indexes -%}
        {%- do settings.update({'indexes': indexes}) -%}
    {%- endif -%}
    {%- if forget_erased_users -%}
        {%- do settings.update({'post_hook': [
            '{{ forget_erased_users(log_forgotten_days=' ~ log_forgotten_days ~ ') }}'
        ]}) -%}
    {%- endif -%}
    {{ return(settings) }}
{%- endmacro %}

{#-
    dbt-spark has no custom incremental strategies: on Spark the same whole-day rebuild is
    insert_overwrite of request_date partitions (Parquet, dynamic overwrite), which replaces
    every day the run rebuilt, plus two hooks for the days it did not: the pre-hook lists the
    days from the start date on that the table holds, the post-hook drops those of them that
    have no row any more (a day made by an erased user alone). Nothing is dropped before the
    new rows are written, so a run that fails midway loses no day. Models that forget erased
    users first finish an erasure a failed run left midway (finish_interrupted_erasure).
-#}
{% macro spark__daily_incremental_config(
    indexed, forget_erased_users, log_forgotten_days, extra_indexes=[]
) -%}
    {%- set pre_hooks = ['{{ list_days_to_rebuild() }}'] -%}
    {%- set post_hooks = ['{{ drop_days_not_rebuilt() }}'] -%}
    {%- if forget_erased_users -%}
        {%- do pre_hooks.insert(0, '{{ finish_interrupted_erasure() }}') -%}
        {%- do post_hooks.append(
            '{{ forget_erased_users(log_forgotten_days=' ~ log_forgotten_days ~ ') }}'
        ) -%}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': ['request_date'],
        'file_format': 'parquet',
        'on_schema_change': 'append_new_columns',
        'pre_hook': pre_hooks,
        'post_hook': post_hooks,
    }) }}
{%- endmacro %}
