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
    table holds now, with the files that hold them; `filter`: the where-clause selecting them
    (rebuilt_days_filter when none). The file paths come from Spark's `_metadata` column:
    file metadata, no row is decoded.
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
        ~ ', _metadata.file_path as file_path from ' ~ this ~ ' where ' ~ filter
    ) -%}
    {{ return('select 1') }}
{%- endmacro %}

{#-
    Spark post-hook: drop the listed days that insert_overwrite did not replace, because the
    rebuilt rows no longer have them. A replaced day has only new files (a dynamic partition
    overwrite writes every file of the day again, under a name unique to the write), so a
    listed day that still holds one of its listed files was not rebuilt. Comparing file
    paths reads metadata; evaluating the model's rows a second time to find their days (as
    this hook did before) cost 0.5 to 2 s a model.
-#}
{% macro drop_days_not_rebuilt(partition_column='request_date') -%}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set listed = days_to_rebuild_relation() -%}
    {%- if not spark_table_exists(listed) -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set days = run_query(
        'select distinct listed.' ~ partition_column ~ ' from ' ~ listed ~ ' as listed'
        ~ ' inner join (select distinct ' ~ partition_column ~ ', _metadata.file_path as file_path'
        ~ ' from ' ~ this ~ ' where ' ~ partition_column ~ ' in (select ' ~ partition_column
        ~ ' from ' ~ listed ~ ')) as present'
        ~ ' on listed.' ~ partition_column ~ ' = present.' ~ partition_column
        ~ ' and listed.file_path = present.file_path'
    ).columns[0].values() -%}
    {%- do drop_day_partitions(this, days, partition_column) -%}
    {%- do run_query('drop table if exists ' ~ listed) -%}
    {{ return('select 1') }}
{%- endmacro %}
