{#- A number rounded to `places` decimals, as text, for alert messages. -#}
{% macro alert_number(expression, places=2) -%}
    cast(round(cast({{ expression }} as numeric(38, 6)), {{ places }}) as {{ dbt.type_string() }})
{%- endmacro %}

{#- A relative change (0.5) as a signed percentage text (+50%), for alert messages. -#}
{#- A relative change of NULL (a median of 0) reads 'up from 0'. -#}
{% macro alert_percent(expression) -%}
    coalesce(
        case when ({{ expression }}) >= 0 then '+' else '' end
        || cast(round(cast(100 * ({{ expression }}) as numeric(38, 6)), 0) as {{ dbt.type_string() }})
        || '%',
        'up from 0'
    )
{%- endmacro %}

{#- The robust z-score in words: 'robust z 7.3', or 'MAD 0' when the baseline never varied. -#}
{% macro alert_robust_z_text(robust_z) -%}
    coalesce('robust z ' || {{ alert_number(robust_z, 1) }}, 'baseline MAD 0')
{%- endmacro %}

{#- A timestamptz as 'YYYY-MM-DD HH:MM UTC', for alert messages. -#}
{% macro alert_timestamp_text(timestamp_expression) -%}
    {{ return(adapter.dispatch('alert_timestamp_text', 'chat_telemetry')(timestamp_expression)) }}
{%- endmacro %}

{% macro postgres__alert_timestamp_text(timestamp_expression) -%}
    (to_char(({{ timestamp_expression }}) at time zone 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC')
{%- endmacro %}

{% macro spark__alert_timestamp_text(timestamp_expression) -%}
    (date_format({{ timestamp_expression }}, 'yyyy-MM-dd HH:mm') || ' UTC')
{%- endmacro %}
