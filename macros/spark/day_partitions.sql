{#- The scratch table of the days an incremental run on Spark rebuilds. -#}
{% macro days_to_rebuild_relation() -%}
    {{ return(this.incorporate(path={'identifier': this.identifier ~ '__days_to_rebuild'})) }}
{%- endmacro %}

{#- Whether a table exists on Spark (dbt's relation cache does not see run_query's tables). -#}
{% macro spark_table_exists(relation) -%}
    {%- set found = run_query(
        "show tables in " ~ relation.schema ~ " like '" ~ relation.identifier ~ "'"
    ) -%}
    {{ return(found | length > 0) }}
{%- endmacro %}

{#-
    Spark: drop whole partitions (a day with no row left must not stay); partition_column:
    request_date, or first_request_date for fct_conversations.
-#}
{% macro drop_day_partitions(relation, days, partition_column='request_date') -%}
    {%- for day in days -%}
        {%- do run_query(
            "alter table " ~ relation ~ " drop if exists partition (" ~ partition_column
            ~ " = '" ~ day ~ "')"
        ) -%}
    {%- endfor -%}
{%- endmacro %}

{#-
    Spark pre-hook: record the days (partitions of partition_column) the run rebuilds that the
    table holds now; `filter`: the where-clause selecting them (rebuilt_days_filter when none).
-#}
{% macro list_days_to_rebuild(partition_column='request_date', filter=none) -%}
    {%- if not execute or not is_incremental() -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- if filter is none -%}
        {%- set filter = rebuilt_days_filter() -%}
    {%- endif -%}
    {%- set listed = days_to_rebuild_relation() -%}
    {%- do run_query('drop table if exists ' ~ listed) -%}
    {%- do run_query(
        'create table ' ~ listed ~ ' using parquet as select distinct ' ~ partition_column
        ~ ' from ' ~ this ~ ' where ' ~ filter
    ) -%}
    {{ return('select 1') }}
{%- endmacro %}

{#-
    Spark post-hook: drop the listed days that the rebuilt rows (dbt-spark's temporary view
    <model>__dbt_tmp) no longer have; insert_overwrite replaced all the others.
-#}
{% macro drop_days_not_rebuilt(partition_column='request_date') -%}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set listed = days_to_rebuild_relation() -%}
    {%- if not spark_table_exists(listed) -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set rebuilt = this.identifier ~ '__dbt_tmp' -%}
    {%- set days = run_query(
        'select ' ~ partition_column ~ ' from ' ~ listed ~ ' where ' ~ partition_column
        ~ ' not in (select distinct ' ~ partition_column ~ ' from ' ~ rebuilt ~ ')'
    ).columns[0].values() -%}
    {%- do drop_day_partitions(this, days, partition_column) -%}
    {%- do run_query('drop table if exists ' ~ listed) -%}
    {{ return('select 1') }}
{%- endmacro %}
