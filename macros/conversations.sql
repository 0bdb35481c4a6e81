{#-
    fct_conversations adds up whole conversations over all history. On Postgres it is
    incremental by conversation: a scheduled run recomputes only the conversations with a
    request on a day it rebuilds (the lookback days, from the day of the newest
    last_request_at, and the days whose prices changed), reading their rows through the
    conversation_id indexes, plus those whose last request fell in the lookback (so that a
    conversation whose newest rows are gone is recomputed, or removed when nothing is left).
    Erased users are deleted by the forget post-hook. On Spark (Parquet, no row-level delete)
    it is a table recomputed from the intermediate models on every run.
-#}

{#- fct_conversations' materialisation: incremental by conversation on Postgres. -#}
{% macro conversations_config() -%}
    {{ return(adapter.dispatch('conversations_config', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__conversations_config() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'replace_conversations',
        'unique_key': 'conversation_id',
        'on_schema_change': 'append_new_columns',
        'indexes': [
            {'columns': ['conversation_id'], 'unique': true},
            {'columns': ['last_request_at']},
        ],
        'meta': {'chat_telemetry_reprice': true},
        'post_hook': ['{{ record_applied_prices() }}', '{{ forget_erased_users() }}'],
    }) }}
{%- endmacro %}

{% macro spark__conversations_config() -%}
    {{ return({'materialized': 'table'}) }}
{%- endmacro %}

{#- The request days this run recomputes conversations for (see rebuilt_days). -#}
{% macro rebuilt_conversation_days() -%}
    {{ return(rebuilt_days(local_date('last_request_at', telemetry_var('reporting_timezone')))) }}
{%- endmacro %}

{#-
    A where-clause on fct_conversations: the conversations whose last request is on or after
    the run's start date (all of them on a full rebuild).
-#}
{% macro conversations_ending_in_rebuilt_days(days) -%}
    {%- if days['all'] -%}
        1 = 1
    {%- elif days['start_date'] is none -%}
        1 = 0
    {%- else -%}
        last_request_at >= {{ local_day_start(date_literal(days['start_date']), telemetry_var('reporting_timezone')) }}
    {%- endif -%}
{%- endmacro %}

{#-
    dbt's custom incremental strategy `replace_conversations`: delete the conversations
    recomputed and those whose last request is in the rebuilt days (a conversation with no
    row left is then gone), then insert the recomputed ones.
-#}
{% macro get_incremental_replace_conversations_sql(arg_dict) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where
        conversation_id in (select conversation_id from {{ arg_dict['temp_relation'] }})
        or {{ conversations_ending_in_rebuilt_days(rebuilt_conversation_days()) }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
