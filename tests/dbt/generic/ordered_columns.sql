{#-
    Fails on rows where the listed columns are not in non-decreasing order, for invariants such
    as p50 <= p95 <= p99 <= max or errors <= requests. NULLs are skipped pairwise.
-#}
{% test ordered_columns(model, columns) %}
    select *
    from {{ model }}
    where
        {%- for index in range(columns | length - 1) %}
            {{ 'or ' if not loop.first }}{{ columns[index] }} > {{ columns[index + 1] }}
        {%- endfor %}
{% endtest %}
