{#-
    Column types are named once, in the YAML (mart contracts) in Postgres' spelling: text,
    float8, bigint, boolean, date, timestamptz, uuid, numeric(p, s). translate_column_type()
    resolves that name for the adapter that builds, so the same contract is enforced on
    Postgres and on Spark (string, double, bigint, boolean, date, timestamp, string,
    decimal(p, s)); a name it does not know passes through unchanged.
-#}
{% macro translate_column_type(data_type) -%}
    {{ return(adapter.dispatch('translate_column_type', 'chat_telemetry')(data_type)) }}
{%- endmacro %}

{% macro default__translate_column_type(data_type) -%}
    {{ return(data_type) }}
{%- endmacro %}

{% macro spark__translate_column_type(data_type) -%}
    {%- set spelled = data_type | trim | lower -%}
    {%- set renames = {
        'text': 'string',
        'uuid': 'string',
        'float8': 'double',
        'double precision': 'double',
        'timestamptz': 'timestamp',
        'integer': 'int',
    } -%}
    {%- if spelled in renames -%}
        {{ return(renames[spelled]) }}
    {%- elif spelled.startswith('numeric') -%}
        {{ return('decimal' ~ spelled[7:]) }}
    {%- endif -%}
    {{ return(data_type) }}
{%- endmacro %}

{#-
    The 64-bit float of every ratio and percentile: type_double() is 32-bit `float` on
    Spark, which would make the numbers differ from Postgres' float8 after the 7th digit.
-#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    float8
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#-
    dbt's contract check casts NULL to each YAML data_type to learn the declared types
    (default__get_empty_schema_sql); on Spark the name is translated first. The rest is
    dbt's own macro (dbt-adapters 1.24), including its warning on a bare `numeric`.
-#}
{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set col_err = [] -%}
    {%- set col_naked_numeric = [] -%}
    select
    {% for i in columns %}
        {%- set col = columns[i] -%}
        {%- if col['data_type'] is not defined -%}
            {%- do col_err.append(col['name']) -%}
        {%- elif col['data_type'].strip().lower() in ('numeric', 'decimal', 'number') -%}
            {%- do col_naked_numeric.append(col['name']) -%}
        {%- endif -%}
        {%- set col_name = adapter.quote(col['name']) if col.get('quote') else col['name'] -%}
        {{ cast('null', translate_column_type(col['data_type'])) }} as {{ col_name }}{{ ", " if not loop.last }}
    {%- endfor -%}
    {%- if (col_err | length) > 0 -%}
        {{ exceptions.column_type_missing(column_names=col_err) }}
    {%- elif (col_naked_numeric | length) > 0 -%}
        {{ exceptions.warn("Detected columns with numeric type and unspecified precision/scale, this can lead to unintended rounding: " ~ col_naked_numeric ~ "`") }}
    {%- endif -%}
{%- endmacro %}

{#-
    The type of money columns: exact decimals with 18 places (a cached token of the cheapest
    model costs 5e-9 USD), and a fixed scale so equal costs also print alike.
-#}
{% macro type_usd() -%}
    {{ return(adapter.dispatch('type_usd', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__type_usd() -%}
    numeric(38, 18)
{%- endmacro %}

{% macro spark__type_usd() -%}
    decimal(38, 18)
{%- endmacro %}
