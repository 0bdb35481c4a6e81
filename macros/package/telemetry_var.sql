{#-
    Our dbt vars are prefixed (chat_telemetry__<name> in dbt_project.yml), so that installing
    this package in another project never lets that project's var of the same name (a global
    lookback_days, say) change our marts. telemetry_var('<name>') reads
    chat_telemetry__<name>; standalone (this project is the one dbt runs), the unprefixed name
    documented in the README wins when it is set, so `--vars '{lookback_days: 5}'` and the
    deploy examples keep working.
-#}
{% macro telemetry_var(name) -%}
    {%- set prefixed = var('chat_telemetry__' ~ name) -%}
    {%- if is_standalone() -%}
        {{ return(var(name, prefixed)) }}
    {%- endif -%}
    {{ return(prefixed) }}
{%- endmacro %}

{#- Whether this project is the one dbt runs (not a package installed in another one). -#}
{% macro is_standalone() -%}
    {{ return(project_name == 'chat_telemetry') }}
{%- endmacro %}

{#-
    Whether the invocation selected any of our models. The project hooks (on-run-start and
    on-run-end in dbt_project.yml) act only then, so that `dbt run -s their_model` in a
    project that installs this package neither creates our settings table nor refuses an
    unrelated --full-refresh after a purge.
-#}
{% macro chat_telemetry_models_selected() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for unique_id in selected_resources -%}
        {%- if unique_id.startswith('model.chat_telemetry.') -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}
