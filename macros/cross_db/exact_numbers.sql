{#-
    The median of value_column per group of from_relation, exactly in the column's own type
    (decimal): the middle value, or half the sum of the two middle values. It replaces
    percentile_cont(0.5), which works in double precision on Postgres and on Spark and
    rounds the last digit differently on each, so that both engines report the same median
    to the last decimal. A select statement (for a CTE) with the group columns, median_name
    and, when count_name is given, the number of values.
-#}
{% macro exact_median(
    from_relation, value_column, median_name, group_columns=['metric_date', 'rule', 'subject'],
    count_name=none
) -%}
    {%- set groups = group_columns | join(', ') %}
    select
        {{ groups }},
        {%- if count_name %}
        max(value_count) as {{ count_name }},
        {%- endif %}
        cast((min({{ value_column }}) + max({{ value_column }})) * 0.5 as {{ type_usd() }})
            as {{ median_name }}
    from (
        select
            {{ groups }},
            {{ value_column }},
            row_number() over (partition by {{ groups }} order by {{ value_column }}) as value_rank,
            count(*) over (partition by {{ groups }}) as value_count
        from {{ from_relation }}
    ) as ranked_values
    -- the middle rank of an odd count, the two middle ranks of an even one
    where 2 * value_rank between value_count and value_count + 2
    group by {{ groups }}
{%- endmacro %}

{#-
    A double rounded to `places` decimals, as a money-typed decimal that both engines produce
    to the last digit. Casting a double to a decimal is not portable: Postgres keeps 15
    significant digits, Spark the shortest representation (up to 17). Scaling, adding one
    half and flooring are exact IEEE operations on both, so the rounded integer is the same.
-#}
{% macro decimal_from_double(expression, places) -%}
    {%- set unit = '0.' ~ ('0' * (places - 1)) ~ '1' -%}
    cast(
        cast(
            floor(
                cast({{ expression }} as {{ type_double() }})
                * cast('1e{{ places }}' as {{ type_double() }})
                + cast(0.5 as {{ type_double() }})
            ) as {{ dbt.type_bigint() }}
        ) as decimal(20, 0)
    ) * {{ unit }}
{%- endmacro %}
