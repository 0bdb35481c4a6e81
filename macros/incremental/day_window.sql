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
    {{ return(table_start_date(
        this, date_column, listed_day_column(date_column) in (config.get('partition_by') or [])
    )) }}
{%- endmacro %}

{#-
    The column whose partitions newest_listed_day reads for a date_column: the column itself,
    or the mapping's `partition_day` (none when it has none: see newest_day).
-#}
{% macro listed_day_column(date_column) -%}
    {{ return(date_column.get('partition_day') if date_column is mapping else date_column) }}
{%- endmacro %}

{#-
    lookback_start_date of any table of days, cached for the run under the key
    incremental_start_date uses for that table's own model: int_users_seen_daily asks it of
    the per-user models before they run, and each of them then reuses the answer (its table
    does not change before it is written).
-#}
{% macro table_start_date(relation, date_column='request_date', partitioned=false) -%}
    {{ return(cached_for_this_run(
        'incremental_start_date ' ~ relation ~ ' ' ~ date_column, lookback_start_date_of_table,
        {'relation': relation, 'date_column': date_column, 'partitioned': partitioned}
    )) }}
{%- endmacro %}

{#- lookback_start_date with one argument (for cached_for_this_run). -#}
{% macro lookback_start_date_of_table(table) -%}
    {{ return(lookback_start_date(table['relation'], table['date_column'], table['partitioned'])) }}
{%- endmacro %}

{#-
    The first day a run rebuilds from a table of days, as an ISO date string (none when it is
    empty): lookback_days back from its newest day, and never later than lookback_days back
    from today, so a run always rebuilds the last lookback_days days and a schedule that
    paused for a week catches up on every missed day. Also where int_sql_fingerprints_settled
    puts its boundary: the days before it are never rebuilt again. The newest day comes from
    Spark's partition list when it is known there (newest_listed_day), else from a max()
    query (newest_day); the arithmetic is done here against the run's today (run_today: one
    query per run, not one per model; on Spark any query costs ~0.2 s, and 12 models asked).
-#}
{% macro lookback_start_date(relation, date_column='request_date', partitioned=false) -%}
    {%- set listed = newest_listed_day(relation, date_column, partitioned) -%}
    {%- if listed['known'] -%}
        {%- set newest = listed['day'] -%}
    {%- else -%}
        {%- set newest = run_query(newest_day(relation, date_column)).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if newest is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set newest = newest | string -%}
    {%- set today = run_today() -%}
    {%- set base = newest if newest < today else today -%}
    {%- set days_back = 1 - (telemetry_var('lookback_days') | int) -%}
    {{ return((
        modules.datetime.date.fromisoformat(base) + modules.datetime.timedelta(days=days_back)
    ).isoformat()) }}
{%- endmacro %}

{#-
    The run's today in the reporting time zone as an ISO date string, asked of the engine
    (its time zone rules, as every mart's day) once per run.
-#}
{% macro run_today() -%}
    {#- Keyed by the zone too: a unit test may set another reporting_timezone. -#}
    {{ return(cached_for_this_run(
        'run_today ' ~ telemetry_var('reporting_timezone'), compute_run_today, none
    )) }}
{%- endmacro %}

{#- run_today, queried (for cached_for_this_run). -#}
{% macro compute_run_today(unused) -%}
    {%- set today = run_query(
        'select ' ~ run_started_local_date() ~ ' as today'
    ).columns[0].values()[0] -%}
    {{ return(today | string) }}
{%- endmacro %}

{#-
    A query whose column `day` has the newest day of a table (no row, or NULL, when it is
    empty). `date_column` is a column of days, or {'local_day_of': <timestamp column>} for a
    table keyed by an instant (fct_conversations' last_request_at): the reporting-time-zone
    day of the newest instant, which an index on the column answers without reading the
    table (the day of every row would be computed first). The day of the newest instant is
    never later than the newest day of the instants (a clock turned back over midnight can
    only make it earlier), so the start date drawn from it is never later: a run rebuilds
    the same days or, in that hour, one more. The mapping may also name a `partition_day`:
    a partition column whose newest day is never later than the newest of the instants'
    days (fct_conversations' first_request_date), for newest_listed_day.
-#}
{% macro newest_day(relation, date_column) -%}
    {%- if date_column is mapping -%}
    select {{ local_date(
        'max(' ~ date_column['local_day_of'] ~ ')', telemetry_var('reporting_timezone')
    ) }} as day from {{ relation }}
    {%- else -%}
    select max({{ date_column }}) as day from {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#-
    The newest day of a table when it is known without reading the table, as {'known': bool,
    'day': ISO date string or none when the table is empty} (dispatched). Postgres: not
    known (newest_day's max() reads an index).
-#}
{% macro newest_listed_day(relation, date_column, partitioned=false) -%}
    {{ return(adapter.dispatch('newest_listed_day', 'chat_telemetry')(
        relation, date_column, partitioned
    )) }}
{%- endmacro %}

{% macro default__newest_listed_day(relation, date_column, partitioned=false) -%}
    {{ return({'known': false, 'day': none}) }}
{%- endmacro %}

{#-
    Spark: a table partitioned by date_column (`partitioned`) has its newest day in the
    metastore's list of partitions (`show partitions`, no Spark job: ~0.2 s a model less at
    1M rows). The partitions are the days with rows: a dynamic overwrite writes no empty
    partition, and the day-partition hooks drop those left empty. For an instant's day
    ({'local_day_of': ..., 'partition_day': ...}, `partitioned` by partition_day) the newest
    partition stands in for the newest day: it is never later than the newest of the days
    of the instants (a conversation's first_request_date is the earliest of its requests'
    days, so no later than its last request's day), so the run rebuilds at least every day
    from the lookback before that newest day on. fct_conversations' max(last_request_at)
    read every partition (0.6-2.2 s a scheduled run at 1M rows, more with every day of
    history). Only in the hour a clock is turned back over midnight could that max() give
    the earlier day (see newest_day), and so rebuild one day more than this.
-#}
{% macro spark__newest_listed_day(relation, date_column, partitioned=false) -%}
    {%- if not partitioned -%}
        {{ return({'known': false, 'day': none}) }}
    {%- endif -%}
    {%- set days = listed_partition_values(relation, listed_day_column(date_column)) -%}
    {{ return({'known': true, 'day': days | max if days else none}) }}
{%- endmacro %}

{#-
    A where-clause filter for the incremental rebuild, on created_at and request_date, and on
    Spark also on the UTC day of created_at (landed_date_column: staging's created_date, the
    landed table's partition column; none for a relation without it), so that Spark reads
    only the partitions of the days rebuilt instead of every day's file. A row of local day
    D has a UTC day of D - 1 or later in any time zone, so that bound loses no row.
-#}
{% macro incremental_filter(
    timestamp_column='created_at', date_column='request_date', landed_date_column='created_date'
) -%}
    {{ return(days_from_filter(
        incremental_start_date(date_column), timestamp_column, date_column, landed_date_column
    )) }}
{%- endmacro %}

{#-
    incremental_filter for a given start date (an ISO date string; none: every day):
    int_users_seen_daily reads the days from the earliest start date of the per-user models
    (timestamp_column none: a table of days alone).
-#}
{% macro days_from_filter(
    start_date, timestamp_column='created_at', date_column='request_date',
    landed_date_column='created_date'
) -%}
    {%- if start_date is none -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {%- set filter -%}
        {%- if timestamp_column -%}
        {{ timestamp_column }} >= {{ local_day_start(date_literal(start_date), telemetry_var('reporting_timezone')) }}
        and {% endif -%}
        {{ date_column }} >= {{ date_literal(start_date) }}
        {%- if landed_date_column %}
        {{- landed_partition_filter(landed_date_column, start_date) }}
        {%- endif -%}
    {%- endset -%}
    {{ return(filter) }}
{%- endmacro %}

{#- The extra partition-pruning predicate of incremental_filter: none on Postgres. -#}
{% macro landed_partition_filter(landed_date_column, start_date) -%}
    {{ return(adapter.dispatch('landed_partition_filter', 'chat_telemetry')(
        landed_date_column, start_date
    )) }}
{%- endmacro %}

{% macro default__landed_partition_filter(landed_date_column, start_date) -%}
{%- endmacro %}

{% macro spark__landed_partition_filter(landed_date_column, start_date) -%}
    {{ ' ' }}and {{ landed_date_column }} >= {{ add_days(date_literal(start_date), -1) }}
{%- endmacro %}
