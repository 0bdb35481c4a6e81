{#-
    fct_conversations adds up whole conversations over all history. On Postgres it is
    incremental by conversation: a scheduled run recomputes only the conversations with a
    request on a day it rebuilds (the lookback days, from the day of the newest
    last_request_at, and the days whose prices changed), reading their rows through the
    conversation_id indexes, plus those whose last request fell in the lookback (so that a
    conversation whose newest rows are gone is recomputed, or removed when nothing is left).
    Erased users are deleted by the forget post-hook.

    On Spark (Parquet, no row-level delete) it is partitioned by first_request_date, the day
    of a conversation's first request, and a run overwrites every partition from a start
    day on: the earliest of the rebuilt days and of the first days of the conversations
    touched (a request on a rebuilt day, or a last request in the lookback). Every
    conversation that starts on or after that day is recomputed from the requests of those
    days (all of its requests are there); the conversations that started before it keep
    their rows, and their requests on later days are left out. The hooks of the daily
    models drop the partitions left empty and forget erased users.
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
        'meta': {
            'chat_telemetry_reprice': true,
            'chat_telemetry_forgets_erased_users': 'first_request_date',
        },
        'post_hook': ['{{ record_applied_prices() }}', '{{ forget_erased_users() }}'],
    }) }}
{%- endmacro %}

{% macro spark__conversations_config() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': ['first_request_date'],
        'file_format': 'parquet',
        'on_schema_change': 'append_new_columns',
        'meta': {
            'chat_telemetry_reprice': true,
            'chat_telemetry_forgets_erased_users': 'first_request_date',
        },
        'pre_hook': [
            '{{ finish_interrupted_erasure("first_request_date") }}',
            '{{ list_days_to_rebuild("first_request_date", conversation_partitions_filter()) }}',
        ],
        'post_hook': [
            '{{ drop_days_not_rebuilt("first_request_date") }}',
            '{{ forget_erased_users(partition_column="first_request_date") }}',
            '{{ record_applied_prices() }}',
        ],
    }) }}
{%- endmacro %}

{#-
    The request days this run recomputes conversations for (see rebuilt_days), keyed on the
    reporting-time-zone day of last_request_at (newest_day reads the newest one by index on
    Postgres; on Spark the newest first_request_date partition stands in for it, from the
    metastore: newest_listed_day).
-#}
{% macro rebuilt_conversation_days() -%}
    {{ return(rebuilt_days(conversation_day_column())) }}
{%- endmacro %}

{#- The day column rebuilt_days keys fct_conversations on (see newest_day). -#}
{% macro conversation_day_column() -%}
    {{ return(adapter.dispatch('conversation_day_column', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__conversation_day_column() -%}
    {{ return({'local_day_of': 'last_request_at'}) }}
{%- endmacro %}

{#- Spark: checked to be partitioned by first_request_date first (require_conversation_partitions). -#}
{% macro spark__conversation_day_column() -%}
    {%- do require_conversation_partitions() -%}
    {{ return({'local_day_of': 'last_request_at', 'partition_day': 'first_request_date'}) }}
{%- endmacro %}

{#-
    Spark: the first day (first_request_date partition) the run overwrites, as an ISO date
    string, or none when it rebuilds every conversation: the earliest of the rebuilt days
    and of the first days of the conversations touched (see the top of this file).
-#}
{% macro conversations_start_date(days) -%}
    {%- if days['all'] -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(cached_for_this_run(
        'conversations_start_date ' ~ this, compute_conversations_start_date, days
    )) }}
{%- endmacro %}

{#- conversations_start_date, queried (once per run: the model and its pre-hook share it). -#}
{% macro compute_conversations_start_date(days) -%}
    {%- set candidates = days['extra_days'] + ([days['start_date']] if days['start_date'] else []) -%}
    {%- set query -%}
        select min(first_request_date) from {{ this }}
        where
            {{ conversations_ending_in_rebuilt_days(days) }}
            or conversation_id in (
                select conversation_id from {{ ref('int_requests_sequenced') }}
                where conversation_id is not null and {{ rebuilt_days_filter(days=days) }}
            )
    {%- endset -%}
    {%- set first_touched = run_query(query).columns[0].values()[0] -%}
    {%- if first_touched is not none -%}
        {%- do candidates.append(first_touched | string) -%}
    {%- endif -%}
    {{ return(candidates | min) }}
{%- endmacro %}

{#-
    A where-clause on a relation with conversation_id and request_date (the requests, or the
    token sums) selecting the rows of the conversations the run recomputes. Postgres: those
    of the CTE touched_conversations, by index (one_of) on an incremental run. Spark: the
    rows of the days from conversations_start_date on, which also hold the later requests of
    a few conversations that started before it (left out once their requests are added up:
    not_started_before_recomputed_days).
-#}
{% macro of_recomputed_conversations(days) -%}
    {{ return(adapter.dispatch('of_recomputed_conversations', 'chat_telemetry')(days)) }}
{%- endmacro %}

{% macro default__of_recomputed_conversations(days) -%}
    {%- if days['all'] -%}
        {#- every conversation: a hashed semi-join (an array of them all would be slow) -#}
        conversation_id in (select conversation_id from touched_conversations)
    {%- else -%}
        {{ one_of('conversation_id', 'select conversation_id from touched_conversations') }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__of_recomputed_conversations(days) -%}
    {%- set start_date = conversations_start_date(days) -%}
    {%- if start_date is none -%}
        1 = 1
    {%- else -%}
        request_date >= {{ date_literal(start_date) }}
    {%- endif -%}
{%- endmacro %}

{#-
    A where-clause on the recomputed conversations (column conversation_id) that leaves out
    those that started before the run's first recomputed day: on Spark, whose rows of the
    days from conversations_start_date on include their later requests. They are untouched
    (the start date is the earliest first day of every touched conversation), so their row
    in the table is current, and only the few whose last request is on or after the start
    day are in the recomputed rows: the filter on last_request_at lets Parquet's row-group
    statistics skip the older partitions, and the list is small enough to broadcast (all
    conversations that started before the start day were ~400,000 at 1M requests). Applied
    once, to the conversations added up, rather than to both the requests and the token sums
    (a second scan of every older partition: 0.3-0.4 s a scheduled run at 1M rows).
    Postgres recomputes only the touched conversations: nothing to leave out.
-#}
{% macro not_started_before_recomputed_days(days) -%}
    {{ return(adapter.dispatch('not_started_before_recomputed_days', 'chat_telemetry')(days)) }}
{%- endmacro %}

{% macro default__not_started_before_recomputed_days(days) -%}
    1 = 1
{%- endmacro %}

{% macro spark__not_started_before_recomputed_days(days) -%}
    {%- set start_date = conversations_start_date(days) -%}
    {%- if start_date is none -%}
        1 = 1
    {%- else -%}
        conversation_id not in (
            select started_before.conversation_id from {{ this }} as started_before
            where
                started_before.first_request_date < {{ date_literal(start_date) }}
                and started_before.last_request_at
                >= {{ local_day_start(date_literal(start_date), telemetry_var('reporting_timezone')) }}
        )
    {%- endif -%}
{%- endmacro %}

{#- Spark pre-hook filter: the first_request_date partitions the run overwrites. -#}
{% macro conversation_partitions_filter() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {%- set start_date = conversations_start_date(rebuilt_conversation_days()) -%}
    {{ return('1 = 1' if start_date is none else 'first_request_date >= ' ~ date_literal(start_date)) }}
{%- endmacro %}

{#-
    Spark: fail with a clear message when fct_conversations' table was built by an older
    version, without first_request_date (checked once a run, before its partitions are
    listed).
-#}
{% macro require_conversation_partitions() -%}
    {%- if execute and is_incremental() -%}
        {%- do cached_for_this_run(
            'conversation partitions checked ' ~ this, check_conversation_partitions, this
        ) -%}
    {%- endif -%}
{%- endmacro %}

{#- require_conversation_partitions, checked (for cached_for_this_run). -#}
{% macro check_conversation_partitions(relation) -%}
    {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- if 'first_request_date' not in present -%}
        {%- do exceptions.raise_compiler_error(
            relation ~ ' was built by an older version as a table without first_request_date; on'
            ~ ' Spark it is now partitioned by that column. Rebuild it once with'
            ~ ' `dbt run --full-refresh --select fct_conversations` (it is recomputed from the'
            ~ ' intermediate tables, which keep purged days: if raw rows were purged, add'
            ~ " --vars '{chat_telemetry__allow_history_loss: true}', nothing is lost)."
        ) -%}
    {%- endif -%}
    {{ return(true) }}
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
