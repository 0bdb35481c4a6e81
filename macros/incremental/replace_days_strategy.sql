{#-
    dbt's custom incremental strategy `replace_days`: delete every day the run rebuilds (from
    its start date onwards, plus the repriced days of the cost marts), then insert them. Unlike delete+insert on a unique key, a day
    that has no rows any more is removed too.
-#}
{% macro get_incremental_replace_days_sql(arg_dict) -%}
    {{ return(adapter.dispatch('replace_days_sql', 'chat_telemetry')(arg_dict)) }}
{%- endmacro %}

{% macro default__replace_days_sql(arg_dict) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ rebuilt_days_filter() }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
