{#-
    Token sums and their pricing, shared by the per-user sums (int_token_usage_aggregated_daily
    and int_token_usage_priced) and the per-conversation sums
    (int_conversation_token_usage_aggregated_daily and int_conversation_token_usage_priced):
    the same classification, long-context decision and prices, at a grain of request_date,
    pricing_date, `grain_columns` and the billing mode. The model files say what each is.
-#}

{#-
    The columns that, besides the days and the grain, key a row of token sums: the model
    pair, each step's tier, the step flags and the long-context split with its threshold.
    Sums that agree on them share a price; token_sums_over_users adds the sums up over users
    by them before pricing.
-#}
{% macro token_sum_key_columns() -%}
    {{ return([
        'sql_model', 'response_model', 'sql_service_tier', 'response_service_tier',
        'has_sql_step', 'has_sql_token_counts', 'has_response_step', 'has_response_token_counts',
        'is_sql_long_context', 'is_response_long_context',
        'sql_long_context_threshold_tokens', 'response_long_context_threshold_tokens',
    ]) }}
{%- endmacro %}

{#-
    The per-user token sums of `token_sums_relation` (rows of int_token_usage_aggregated_daily)
    added up over users: one row per request_date, pricing_date and token_sum_key_columns. A
    cost is linear in token sums that share a price, so pricing these rows gives exactly the
    sum of the per-user costs, on a tenth to a fortieth of the rows (fct_model_comparison
    reads a 30-day window of them).
-#}
{% macro token_sums_over_users(token_sums_relation) -%}
    select
        request_date,
        pricing_date,
        {%- for column in token_sum_key_columns() %}
        {{ column }},
        {%- endfor %}
        {%- for column in [
            'requests', 'sql_input_tokens', 'sql_cached_input_tokens',
            'sql_cache_write_input_tokens', 'sql_output_tokens', 'response_input_tokens',
            'response_cached_input_tokens', 'response_cache_write_input_tokens',
            'response_output_tokens', 'errors', 'off_topic_requests'
        ] %}
        cast(sum({{ column }}) as {{ dbt.type_bigint() }}) as {{ column }},
        {%- endfor %}
        min(first_request_at) as first_request_at,
        max(last_request_at) as last_request_at
    from {{ token_sums_relation }}
    group by
        request_date,
        pricing_date,
        {{ token_sum_key_columns() | join(',\n        ') }}
{%- endmacro %}

{#-
    Incremental token sums of `requests_relation` (int_requests_dated) from the run's start
    date, one row per request_date, pricing_date, grain_columns, model pair and billing mode;
    `extra_filter` narrows the requests further.
-#}
{% macro token_usage_sums(requests_relation, grain_columns, extra_filter=none) -%}
with

requests as (
    select * from {{ requests_relation }}
    where {{ incremental_filter() }}{{ ' and ' ~ extra_filter if extra_filter else '' }}
),

matched_prices as (
    select * from {{ ref('int_token_prices_matched') }}
),

classified_requests as (
    select
        requests.request_date,
        requests.pricing_date,
        {%- for column in grain_columns %}
        requests.{{ column }},
        {%- endfor %}
        requests.created_at,
        requests.is_error,
        requests.is_off_topic,
        requests.sql_model,
        requests.response_model,
        requests.sql_service_tier,
        requests.response_service_tier,
        sql_price.long_context_threshold_tokens as sql_long_context_threshold_tokens,
        response_price.long_context_threshold_tokens as response_long_context_threshold_tokens,
        (
            requests.sql_model is not null
            or requests.sql_input_tokens is not null
            or requests.sql_output_tokens is not null
        ) as has_sql_step,
        (
            requests.sql_input_tokens is not null and requests.sql_output_tokens is not null
        ) as has_sql_token_counts,
        (
            requests.response_model is not null
            or requests.response_input_tokens is not null
            or requests.response_output_tokens is not null
        ) as has_response_step,
        (
            requests.response_input_tokens is not null
            and requests.response_output_tokens is not null
        ) as has_response_token_counts,
        coalesce(requests.sql_input_tokens > sql_price.long_context_threshold_tokens, false)
            as is_sql_long_context,
        coalesce(
            requests.response_input_tokens > response_price.long_context_threshold_tokens, false
        ) as is_response_long_context,
        coalesce(requests.sql_input_tokens, 0) as sql_input_tokens,
        coalesce(requests.sql_cached_input_tokens, 0) as sql_cached_input_tokens,
        coalesce(requests.sql_cache_write_input_tokens, 0) as sql_cache_write_input_tokens,
        coalesce(requests.sql_output_tokens, 0) as sql_output_tokens,
        coalesce(requests.response_input_tokens, 0) as response_input_tokens,
        coalesce(requests.response_cached_input_tokens, 0) as response_cached_input_tokens,
        coalesce(requests.response_cache_write_input_tokens, 0)
            as response_cache_write_input_tokens,
        coalesce(requests.response_output_tokens, 0) as response_output_tokens
    from requests
    left join matched_prices as sql_price
        on
            requests.pricing_date = sql_price.pricing_date
            and coalesce(requests.sql_model, '(unknown)') = sql_price.model
            and requests.sql_service_tier = sql_price.service_tier
    left join matched_prices as response_price
        on
            requests.pricing_date = response_price.pricing_date
            and coalesce(requests.response_model, '(unknown)') = response_price.model
            and requests.response_service_tier = response_price.service_tier
),

aggregated as (
    select
        request_date,
        pricing_date,
        {%- for column in grain_columns %}
        {{ column }},
        {%- endfor %}
        {%- for column in token_sum_key_columns() %}
        {{ column }},
        {%- endfor %}
        cast(count(*) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(sql_input_tokens) as {{ dbt.type_bigint() }}) as sql_input_tokens,
        cast(
            sum(case when has_sql_step then sql_cached_input_tokens else 0 end)
            as {{ dbt.type_bigint() }}
        ) as sql_cached_input_tokens,
        cast(
            sum(case when has_sql_step then sql_cache_write_input_tokens else 0 end)
            as {{ dbt.type_bigint() }}
        ) as sql_cache_write_input_tokens,
        cast(sum(sql_output_tokens) as {{ dbt.type_bigint() }}) as sql_output_tokens,
        cast(sum(response_input_tokens) as {{ dbt.type_bigint() }}) as response_input_tokens,
        cast(
            sum(case when has_response_step then response_cached_input_tokens else 0 end)
            as {{ dbt.type_bigint() }}
        ) as response_cached_input_tokens,
        cast(
            sum(case when has_response_step then response_cache_write_input_tokens else 0 end)
            as {{ dbt.type_bigint() }}
        ) as response_cache_write_input_tokens,
        cast(sum(response_output_tokens) as {{ dbt.type_bigint() }}) as response_output_tokens,
        cast(sum(case when is_error then 1 else 0 end) as {{ dbt.type_bigint() }}) as errors,
        cast(sum(case when is_off_topic then 1 else 0 end) as {{ dbt.type_bigint() }})
            as off_topic_requests,
        min(created_at) as first_request_at,
        max(created_at) as last_request_at
    from classified_requests
    group by
        request_date,
        pricing_date,
        {%- for column in grain_columns %}
        {{ column }},
        {%- endfor %}
        {{ token_sum_key_columns() | join(',\n        ') }}
)

select * from aggregated
{%- endmacro %}

{#- The token sums of `usage_relation` priced at read time (one row per row of sums). -#}
{% macro priced_token_usage(usage_relation, grain_columns) -%}
with

token_usage as (
    select * from {{ usage_relation }}
),

matched_prices as (
    select * from {{ ref('int_token_prices_matched') }}
),

-- Sums built before the billing-mode columns existed have NULL there: their calls reported
-- no tier (default) and were not classified as long context (the threshold check below then
-- leaves models that have a threshold unknown, never short-priced).
labeled_usage as (
    select
        request_date,
        pricing_date,
        {%- for column in grain_columns %}
        {{ column }},
        {%- endfor %}
        sql_model,
        response_model,
        has_sql_step,
        has_sql_token_counts,
        has_response_step,
        has_response_token_counts,
        sql_long_context_threshold_tokens,
        response_long_context_threshold_tokens,
        requests,
        sql_input_tokens,
        sql_cached_input_tokens,
        sql_output_tokens,
        response_input_tokens,
        response_cached_input_tokens,
        response_output_tokens,
        errors,
        off_topic_requests,
        first_request_at,
        last_request_at,
        coalesce(sql_service_tier, 'default') as sql_service_tier,
        coalesce(response_service_tier, 'default') as response_service_tier,
        coalesce(is_sql_long_context, false) as is_sql_long_context,
        coalesce(is_response_long_context, false) as is_response_long_context,
        coalesce(sql_cache_write_input_tokens, 0) as sql_cache_write_input_tokens,
        coalesce(response_cache_write_input_tokens, 0) as response_cache_write_input_tokens,
        case when has_sql_step then coalesce(sql_model, '(unknown)') end as sql_step_model,
        case when has_response_step then coalesce(response_model, '(unknown)') end
            as response_step_model
    from token_usage
),

priced_usage as (
    select
        labeled_usage.*,
        sql_price.priced_as_model as sql_priced_as_model,
        response_price.priced_as_model as response_priced_as_model,
        case
            when labeled_usage.is_sql_long_context then sql_price.long_context_input_usd_per_1m
            else sql_price.input_usd_per_1m
        end as sql_input_usd_per_1m,
        case
            when labeled_usage.is_sql_long_context
                then sql_price.long_context_cached_input_usd_per_1m
            else sql_price.cached_input_usd_per_1m
        end as sql_cached_input_usd_per_1m,
        case
            when labeled_usage.is_sql_long_context
                then sql_price.long_context_cache_write_input_usd_per_1m
            else sql_price.cache_write_input_usd_per_1m
        end as sql_cache_write_input_usd_per_1m,
        case
            when labeled_usage.is_sql_long_context then sql_price.long_context_output_usd_per_1m
            else sql_price.output_usd_per_1m
        end as sql_output_usd_per_1m,
        -- The sums' long-context split is valid only for the threshold it was made with.
        coalesce(labeled_usage.sql_long_context_threshold_tokens, -1)
        = coalesce(sql_price.long_context_threshold_tokens, -1)
            as is_sql_threshold_current,
        case
            when labeled_usage.is_response_long_context
                then response_price.long_context_input_usd_per_1m
            else response_price.input_usd_per_1m
        end as response_input_usd_per_1m,
        case
            when labeled_usage.is_response_long_context
                then response_price.long_context_cached_input_usd_per_1m
            else response_price.cached_input_usd_per_1m
        end as response_cached_input_usd_per_1m,
        case
            when labeled_usage.is_response_long_context
                then response_price.long_context_cache_write_input_usd_per_1m
            else response_price.cache_write_input_usd_per_1m
        end as response_cache_write_input_usd_per_1m,
        case
            when labeled_usage.is_response_long_context
                then response_price.long_context_output_usd_per_1m
            else response_price.output_usd_per_1m
        end as response_output_usd_per_1m,
        -- The sums' long-context split is valid only for the threshold it was made with.
        coalesce(labeled_usage.response_long_context_threshold_tokens, -1)
        = coalesce(response_price.long_context_threshold_tokens, -1)
            as is_response_threshold_current
    from labeled_usage
    left join matched_prices as sql_price
        on
            labeled_usage.pricing_date = sql_price.pricing_date
            and labeled_usage.sql_step_model = sql_price.model
            and labeled_usage.sql_service_tier = sql_price.service_tier
    left join matched_prices as response_price
        on
            labeled_usage.pricing_date = response_price.pricing_date
            and labeled_usage.response_step_model = response_price.model
            and labeled_usage.response_service_tier = response_price.service_tier
),

classified_usage as (
    select
        *,
        has_sql_step
        and has_sql_token_counts
        and sql_priced_as_model is not null
        and is_sql_threshold_current
        and sql_input_usd_per_1m is not null
        and sql_cached_input_usd_per_1m is not null
        and sql_output_usd_per_1m is not null as is_sql_cost_known,
        has_response_step
        and has_response_token_counts
        and response_priced_as_model is not null
        and is_response_threshold_current
        and response_input_usd_per_1m is not null
        and response_cached_input_usd_per_1m is not null
        and response_output_usd_per_1m is not null as is_response_cost_known
    from priced_usage
),

costed_steps as (
    select
        *,
        cast(case when is_sql_cost_known then {{ uncached_input_cost_usd(
            'sql_input_tokens',
            'sql_cached_input_tokens',
            'sql_cache_write_input_tokens',
            'sql_input_usd_per_1m'
        ) }} end as {{ type_usd() }})
            as sql_input_cost_usd,
        cast(case when is_sql_cost_known then {{ cached_input_cost_usd(
            'sql_cached_input_tokens', 'sql_cached_input_usd_per_1m'
        ) }} end as {{ type_usd() }})
            as sql_cached_input_cost_usd,
        cast(case when is_sql_cost_known then {{ cache_write_input_cost_usd(
            'sql_cache_write_input_tokens', 'sql_cache_write_input_usd_per_1m'
        ) }} end as {{ type_usd() }})
            as sql_cache_write_input_cost_usd,
        cast(case when is_sql_cost_known then {{ output_cost_usd(
            'sql_output_tokens', 'sql_output_usd_per_1m'
        ) }} end as {{ type_usd() }})
            as sql_output_cost_usd,
        cast(case when is_response_cost_known then {{ uncached_input_cost_usd(
            'response_input_tokens',
            'response_cached_input_tokens',
            'response_cache_write_input_tokens',
            'response_input_usd_per_1m'
        ) }} end as {{ type_usd() }})
            as response_input_cost_usd,
        cast(case when is_response_cost_known then {{ cached_input_cost_usd(
            'response_cached_input_tokens', 'response_cached_input_usd_per_1m'
        ) }} end as {{ type_usd() }})
            as response_cached_input_cost_usd,
        cast(case when is_response_cost_known then {{ cache_write_input_cost_usd(
            'response_cache_write_input_tokens', 'response_cache_write_input_usd_per_1m'
        ) }} end as {{ type_usd() }})
            as response_cache_write_input_cost_usd,
        cast(case when is_response_cost_known then {{ output_cost_usd(
            'response_output_tokens', 'response_output_usd_per_1m'
        ) }} end as {{ type_usd() }})
            as response_output_cost_usd,
        (has_sql_step and not is_sql_cost_known)
        or (has_response_step and not is_response_cost_known) as has_unknown_cost,
        -- The known steps' cost in USD x 1e6 (tokens x price per 1M): exact, and cheap to sum
        -- over all history; readers multiply the sum by 0.000001 once (exact, unlike a
        -- division, whose result scale Postgres cuts for large sums).
        cast(case
            when is_sql_cost_known or is_response_cost_known
                then
                    case
                        when is_sql_cost_known then {{ call_cost_usd_x1m('sql_') }}
                        else 0
                    end
                    + case
                        when is_response_cost_known then {{ call_cost_usd_x1m('response_') }}
                        else 0
                    end
        end as {{ type_usd() }}) as known_cost_usd_x1m
    from classified_usage
),

totalled as (
    select
        request_date,
        pricing_date,
        {%- for column in grain_columns %}
        {{ column }},
        {%- endfor %}
        sql_model,
        response_model,
        sql_service_tier,
        response_service_tier,
        has_sql_step,
        has_sql_token_counts,
        has_response_step,
        has_response_token_counts,
        is_sql_long_context,
        is_response_long_context,
        sql_step_model,
        response_step_model,
        requests,
        sql_input_tokens,
        sql_cached_input_tokens,
        sql_cache_write_input_tokens,
        sql_output_tokens,
        response_input_tokens,
        response_cached_input_tokens,
        response_cache_write_input_tokens,
        response_output_tokens,
        errors,
        off_topic_requests,
        first_request_at,
        last_request_at,
        sql_priced_as_model,
        response_priced_as_model,
        sql_input_usd_per_1m,
        sql_cached_input_usd_per_1m,
        sql_cache_write_input_usd_per_1m,
        sql_output_usd_per_1m,
        response_input_usd_per_1m,
        response_cached_input_usd_per_1m,
        response_cache_write_input_usd_per_1m,
        response_output_usd_per_1m,
        is_sql_cost_known,
        is_response_cost_known,
        sql_input_cost_usd,
        sql_cached_input_cost_usd,
        sql_cache_write_input_cost_usd,
        sql_output_cost_usd,
        response_input_cost_usd,
        response_cached_input_cost_usd,
        response_cache_write_input_cost_usd,
        response_output_cost_usd,
        has_unknown_cost,
        cast(
            sql_input_cost_usd
            + sql_cached_input_cost_usd
            + sql_cache_write_input_cost_usd
            + sql_output_cost_usd
            as {{ type_usd() }}
        ) as sql_cost_usd,
        cast(
            response_input_cost_usd
            + response_cached_input_cost_usd
            + response_cache_write_input_cost_usd
            + response_output_cost_usd
            as {{ type_usd() }}
        ) as response_cost_usd,
        known_cost_usd_x1m,
        cast(known_cost_usd_x1m * 0.000001 as {{ type_usd() }}) as known_cost_usd
    from costed_steps
)

select * from totalled
{%- endmacro %}
