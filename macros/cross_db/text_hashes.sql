{#-
    Every dialect-specific piece of the models sits behind one of these dispatched macros:
    a `default__` implementation (ANSI, as Postgres runs it), a `postgres__` one where Postgres
    needs its own syntax, and a `spark__` one for dbt-spark. Models call only the short names.
-#}

{#- The calendar day of a timestamptz in an IANA time zone. -#}
{% macro local_date(timestamp_column, timezone) -%}
    {{ return(adapter.dispatch('local_date', 'chat_telemetry')(timestamp_column, timezone)) }}
{%- endmacro %}

{% macro postgres__local_date(timestamp_column, timezone) -%}
    cast(({{ timestamp_column }}) at time zone '{{ timezone }}' as date)
{%- endmacro %}

{% macro spark__local_date(timestamp_column, timezone) -%}
    to_date(from_utc_timestamp({{ timestamp_column }}, '{{ timezone }}'))
{%- endmacro %}

{#- The first instant of a local calendar day, as a timestamptz (for index-friendly filters). -#}
{% macro local_day_start(date_expression, timezone) -%}
    {{ return(adapter.dispatch('local_day_start', 'chat_telemetry')(date_expression, timezone)) }}
{%- endmacro %}

{% macro postgres__local_day_start(date_expression, timezone) -%}
    (cast({{ date_expression }} as timestamp) at time zone '{{ timezone }}')
{%- endmacro %}

{% macro spark__local_day_start(date_expression, timezone) -%}
    to_utc_timestamp(cast({{ date_expression }} as timestamp), '{{ timezone }}')
{%- endmacro %}

{#- A date plus a number of days (negative to go back). -#}
{% macro add_days(date_expression, days) -%}
    {{ return(adapter.dispatch('add_days', 'chat_telemetry')(date_expression, days)) }}
{%- endmacro %}

{% macro postgres__add_days(date_expression, days) -%}
    cast(({{ date_expression }}) + ({{ days }}) as date)
{%- endmacro %}

{% macro spark__add_days(date_expression, days) -%}
    date_add({{ date_expression }}, {{ days }})
{%- endmacro %}

{#- A date literal. -#}
{% macro date_literal(iso_date) -%}
    {{ return(adapter.dispatch('date_literal', 'chat_telemetry')(iso_date)) }}
{%- endmacro %}

{% macro default__date_literal(iso_date) -%}
    cast('{{ iso_date }}' as date)
{%- endmacro %}

{#- Continuous percentile (linear interpolation) of the non-null values, as an aggregate. -#}
{% macro percentile_cont(column, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'chat_telemetry')(column, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(column, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ column }})
{%- endmacro %}

{% macro spark__percentile_cont(column, fraction) -%}
    percentile({{ column }}, {{ fraction }})
{%- endmacro %}

{#- The fingerprint the raw table's trigger computes: md5 of lowercased, space-folded SQL. -#}
{% macro sql_fingerprint(sql_column) -%}
    {{ return(adapter.dispatch('sql_fingerprint', 'chat_telemetry')(sql_column)) }}
{%- endmacro %}

{% macro postgres__sql_fingerprint(sql_column) -%}
    md5(lower(regexp_replace({{ sql_column }}, '\s+', ' ', 'g')))
{%- endmacro %}

{% macro spark__sql_fingerprint(sql_column) -%}
    md5(lower(regexp_replace({{ sql_column }}, '\\s+', ' ')))
{%- endmacro %}

{#- A model name without a trailing snapshot date: gpt-4o-mini-2024-07-18 -> gpt-4o-mini. -#}
{% macro strip_model_snapshot(model_column) -%}
    {{ return(adapter.dispatch('strip_model_snapshot', 'chat_telemetry')(model_column)) }}
{%- endmacro %}

{% macro postgres__strip_model_snapshot(model_column) -%}
    regexp_replace({{ model_column }}, '-[0-9]{4}-[0-9]{2}-[0-9]{2}$', '')
{%- endmacro %}

{% macro spark__strip_model_snapshot(model_column) -%}
    regexp_replace({{ model_column }}, '-[0-9]{4}-[0-9]{2}-[0-9]{2}$', '')
{%- endmacro %}

{#- a / b as a float, NULL when b is 0. -#}
{% macro safe_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('safe_divide', 'chat_telemetry')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as {{ type_double() }}) / nullif({{ denominator }}, 0)
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

{#-
    md5 of a text normalised as answer quality compares questions and suggestions: lowercased,
    trimmed, every run of whitespace one space. bootstrap_sql/40 computes the same in the view
    the Spark landing reads (chat_telemetry_log_text_hashes).
-#}
{% macro normalised_text_hash(text_column) -%}
    {{ return(adapter.dispatch('normalised_text_hash', 'chat_telemetry')(text_column)) }}
{%- endmacro %}

{% macro postgres__normalised_text_hash(text_column) -%}
    md5(btrim(lower(regexp_replace({{ text_column }}, '\s+', ' ', 'g'))))
{%- endmacro %}

{% macro spark__normalised_text_hash(text_column) -%}
    md5(trim(lower(regexp_replace({{ text_column }}, '\\s+', ' '))))
{%- endmacro %}

{#-
    The hash of the normalised question, in staging. Postgres computes it from the raw text;
    Spark never has the text: the landing brought the hash Postgres computed (question_hash).
-#}
{% macro question_hash() -%}
    {{ return(adapter.dispatch('question_hash', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro postgres__question_hash() -%}
    {{ normalised_text_hash('user_question') }}
{%- endmacro %}

{% macro spark__question_hash() -%}
    question_hash
{%- endmacro %}

{#-
    The hashes of the normalised follow-up suggestions, in staging, as one text: the md5 hex
    digests in order, separated by commas ('' when there are none; a text rather than an
    array, which every engine, the JDBC landing and dbt's unit tests handle alike). Postgres
    computes them from the raw jsonb array; Spark reads the landed follow_up_suggestion_hashes.
-#}
{% macro follow_up_suggestion_hashes() -%}
    {{ return(adapter.dispatch('follow_up_suggestion_hashes', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro postgres__follow_up_suggestion_hashes() -%}
    array_to_string(array(
        select {{ normalised_text_hash('suggestions.suggestion') }}
        from jsonb_array_elements_text(
            case
                when jsonb_typeof(follow_up_suggestions) = 'array' then follow_up_suggestions
                else '[]'::jsonb
            end
        ) with ordinality as suggestions (suggestion, position)
        order by suggestions.position
    ), ',')
{%- endmacro %}

{% macro spark__follow_up_suggestion_hashes() -%}
    coalesce(follow_up_suggestion_hashes, '')
{%- endmacro %}

{#-
    Whether a comma-separated list of hashes holds a hash: false (never NULL) when either is
    NULL or empty.
-#}
{% macro hash_list_holds(list_column, value) -%}
    {{ return(adapter.dispatch('hash_list_holds', 'chat_telemetry')(list_column, value)) }}
{%- endmacro %}

{% macro postgres__hash_list_holds(list_column, value) -%}
    coalesce(strpos(',' || {{ list_column }} || ',', ',' || {{ value }} || ',') > 0, false)
{%- endmacro %}

{% macro spark__hash_list_holds(list_column, value) -%}
    coalesce(instr(concat(',', {{ list_column }}, ','), concat(',', {{ value }}, ',')) > 0, false)
{%- endmacro %}

{#-
    `column` is one of the values a subquery returns. On Postgres `= any(array(subquery))`:
    the subquery runs once, first, and its values reach an index on the column, also through
    a view's joins (an `in (subquery)` semi-join is planned after them). Elsewhere `in`.
-#}
{% macro one_of(column, subquery) -%}
    {{ return(adapter.dispatch('one_of', 'chat_telemetry')(column, subquery)) }}
{%- endmacro %}

{% macro default__one_of(column, subquery) -%}
    {{ column }} in ({{ subquery }})
{%- endmacro %}

{% macro postgres__one_of(column, subquery) -%}
    {{ column }} = any(array({{ subquery }}))
{%- endmacro %}
