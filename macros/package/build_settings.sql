{#-
    Settings whose change would mix incompatible days in the incremental models are recorded
    beside the marts (table chat_telemetry_build_settings in the internal schema). A plain
    `dbt run` or `dbt build` with a different value fails with a message that names the
    setting, both values and the command to run; `--full-refresh` rebuilds every day with the
    new value and records it once every model built.
-#}

{#- The settings that decide which day a row belongs to. -#}
{% macro tracked_build_settings() -%}
    {{ return({'reporting_timezone': telemetry_var('reporting_timezone') | string}) }}
{%- endmacro %}

{% macro build_settings_relation() -%}
    {{ return(api.Relation.create(
        database=target.get("database"),
        schema=internal_schema_name(),
        identifier='chat_telemetry_build_settings',
    )) }}
{%- endmacro %}

{% macro is_building_models() -%}
    {{ return(execute and flags.WHICH in ('run', 'build') and chat_telemetry_models_selected()) }}
{%- endmacro %}

{#- The recorded settings as a dict (empty when nothing is recorded yet). -#}
{% macro recorded_build_settings() -%}
    {%- set relation = build_settings_relation() -%}
    {%- do run_query(create_build_settings_table_sql(relation)) -%}
    {%- set rows = run_query('select setting, setting_value from ' ~ relation) -%}
    {%- set recorded = {} -%}
    {%- for row in rows -%}
        {%- do recorded.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    {{ return(recorded) }}
{%- endmacro %}

{% macro create_build_settings_table_sql(relation) -%}
    {{ return(adapter.dispatch('create_build_settings_table_sql', 'chat_telemetry')(relation)) }}
{%- endmacro %}

{% macro default__create_build_settings_table_sql(relation) -%}
    create schema if not exists {{ adapter.quote(relation.schema) }};
    create table if not exists {{ relation }} (
        setting {{ dbt.type_string() }} primary key,
        setting_value {{ dbt.type_string() }} not null,
        recorded_at {{ dbt.type_timestamp() }} not null
    )
{%- endmacro %}

{#- on-run-start: fail before anything is built when a tracked setting changed. -#}
{% macro check_build_settings() -%}
    {%- if not is_building_models() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set recorded = recorded_build_settings() -%}
    {%- set wanted = tracked_build_settings() -%}
    {%- for setting, value in wanted.items() -%}
        {%- set before = recorded.get(setting) -%}
        {%- if before is not none and before != value and not flags.FULL_REFRESH -%}
            {%- set purged_before = raw_purge_watermark() -%}
            {%- set message -%}
The dbt var {{ setting }} changed from '{{ before }}' (the value the marts were built with) to '{{ value }}'. A plain build would only rebuild the last lookback_days days with the new value and mix both in the daily marts. Either set {{ setting }} back to '{{ before }}', or rebuild every day with the new value:
    dbt build --full-refresh --vars '{{ '{' }}{{ setting }}: {{ value }}{{ '}' }}'
{%- if purged_before is not none %}
Raw telemetry before {{ purged_before }} was purged, so those days cannot be rebuilt with the new value: a full refresh is refused unless you add allow_history_loss: true to --vars, which drops them.
{%- endif -%}
            {%- endset -%}
            {%- do exceptions.raise_compiler_error(message) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}

{#-
    on-run-end: record the settings the marts now hold, the first time, and after a full
    refresh of the whole project (no --select) in which every model built.
-#}
{% macro record_build_settings(results) -%}
    {%- if not is_building_models() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set recorded = recorded_build_settings() -%}
    {%- set wanted = tracked_build_settings() -%}
    {%- set model_failed = results
        | selectattr('node.resource_type', 'equalto', 'model')
        | selectattr('status', 'in', ['error', 'skipped'])
        | list | length > 0 -%}
    {%- set whole_project = not invocation_args_dict.get('select')
        and not invocation_args_dict.get('selector') -%}
    {%- set rebuilt_everything = flags.FULL_REFRESH and whole_project and not model_failed -%}
    {%- set statements = [] -%}
    {%- for setting, value in wanted.items() -%}
        {%- if (setting not in recorded and not model_failed) or (rebuilt_everything and recorded.get(setting) != value) -%}
            {%- do statements.append(upsert_build_setting_sql(setting, value)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements | join(';\n') if statements else '') }}
{%- endmacro %}

{% macro upsert_build_setting_sql(setting, value) -%}
    {{ return(adapter.dispatch('upsert_build_setting_sql', 'chat_telemetry')(setting, value)) }}
{%- endmacro %}

{% macro default__upsert_build_setting_sql(setting, value) -%}
    {%- set relation = build_settings_relation() -%}
    delete from {{ relation }} where setting = '{{ setting }}';
    insert into {{ relation }} (setting, setting_value, recorded_at)
    values ('{{ setting }}', '{{ value | replace("'", "''") }}', {{ run_started_at_utc() }})
{%- endmacro %}

{#- Spark: one statement per call, no primary key, no DELETE (the table is rewritten whole). -#}
{% macro spark__create_build_settings_table_sql(relation) -%}
    {%- do execute and run_query('create schema if not exists ' ~ relation.schema) -%}
    create table if not exists {{ relation }} (
        setting string,
        setting_value string,
        recorded_at timestamp
    ) using parquet
{%- endmacro %}

{% macro spark__upsert_build_setting_sql(setting, value) -%}
    {%- set relation = build_settings_relation() -%}
    {%- set kept = run_query(
        "select setting, setting_value, cast(recorded_at as string) from " ~ relation
        ~ " where setting <> " ~ spark_string_literal(setting)
    ) -%}
    insert overwrite table {{ relation }}
    select setting, setting_value, cast(recorded_at as timestamp) from values
    {%- for row in kept %}
        ({{ spark_string_literal(row[0]) }}, {{ spark_string_literal(row[1]) }}, '{{ row[2] }}'),
    {%- endfor %}
        ({{ spark_string_literal(setting) }}, {{ spark_string_literal(value) }}, cast({{ run_started_at_utc() }} as string))
    as recorded (setting, setting_value, recorded_at)
{%- endmacro %}

{#- A Spark SQL string literal: backslashes and quotes escaped (Spark reads \ escapes). -#}
{% macro spark_string_literal(text) -%}
    '{{ text | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
