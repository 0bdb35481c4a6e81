{#-
    Daily incremental models rebuild whole days. Each scheduled run replaces every request_date
    from its start date onwards (the last lookback_days days, and any gap since the newest day
    built), so that a day whose rows are gone (a user erased, rows moved to another day)
    disappears, and late rows are counted. Days before the start date are kept as they are,
    which is what lets the marts outlive the raw rows (retention purge).
-#}

{#-
    The first request_date an incremental run rebuilds, as an ISO date string, or none on a
    full build (or when the table is empty): lookback_start_date of the model's own table,
    queried once per model and run (the model's filter, rebuilt_days and the hooks share it;
    the table does not change before the model writes it).
-#}
{% macro incremental_start_date(date_column='request_date') -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(cached_for_this_run(
        'incremental_start_date ' ~ this ~ ' ' ~ date_column, lookback_start_date_of_this, date_column
    )) }}
{%- endmacro %}

{#- lookback_start_date of the current model's own table (for cached_for_this_run). -#}
{% macro lookback_start_date_of_this(date_column) -%}
    {{ return(lookback_start_date(this, date_column)) }}
{%- endmacro %}

{#-
    The first day a run rebuilds from a table of days, as an ISO date string (none when it is
    empty): lookback_days back from its newest day, and never later than lookback_days back
    from today, so a run always rebuilds the last lookback_days days and a schedule that
    paused for a week catches up on every missed day. Also where int_sql_fingerprints_settled
    puts its boundary: the days before it are never rebuilt again.
-#}
{% macro lookback_start_date(relation, date_column='request_date') -%}
    {%- set days_back = 1 - (telemetry_var('lookback_days') | int) -%}
    {%- set today = local_date(run_started_at_utc(), telemetry_var('reporting_timezone')) -%}
    {%- set query -%}
        select
            case
                when max({{ date_column }}) is null then null
                when max({{ date_column }}) < {{ today }}
                    then {{ add_days('max(' ~ date_column ~ ')', days_back) }}
                else {{ add_days(today, days_back) }}
            end as start_date
        from {{ relation }}
    {%- endset -%}
    {%- set start_date = run_query(query).columns[0].values()[0] -%}
    {{ return(none if start_date is none else start_date | string) }}
{%- endmacro %}

{#- A where-clause filter for the incremental rebuild, on created_at and request_date. -#}
{% macro incremental_filter(timestamp_column='created_at', date_column='request_date') -%}
    {%- set start_date = incremental_start_date(date_column) -%}
    {%- if start_date is none -%}
        1 = 1
    {%- else -%}
        {{ timestamp_column }} >= {{ local_day_start(date_literal(start_date), telemetry_var('reporting_timezone')) }}
        and {{ date_column }} >= {{ date_literal(start_date) }}
    {%- endif -%}
{%- endmacro %}
