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
