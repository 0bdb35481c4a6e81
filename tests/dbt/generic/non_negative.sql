{#- Fails on rows where the column is negative (NULL passes: not_null says whether it may be). -#}
{% test non_negative(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}
