-- One row per (sql_model, response_model) pair over the window_days days ending on
-- as_of_date. NULL models show as '(none)'; requests with neither model are left out.
-- Latencies use successful requests only; avg_cost_usd uses requests whose every step has a
-- known cost, priced at read time from the retained token sums (summed over users first).
with

requests as (
    select * from {{ ref('int_requests_retained') }}
    where
        request_date between {{ window_start_date() }} and {{ as_of_date() }}
        and (sql_model is not null or response_model is not null)
),

token_sums as (
    select * from {{ ref('int_token_usage_aggregated_daily') }}
    where
        request_date between {{ window_start_date() }} and {{ as_of_date() }}
        and (sql_model is not null or response_model is not null)
),

-- The window's token sums added up over users, then priced: a cost is linear in token sums
-- that share a price (same pricing day, models, tiers and long-context split), so this is
-- exactly the sum of the per-user costs, on a tenth of the rows (pricing every per-user
-- row of 30 days was 2.9 s of this model's 4 s on Spark at 1M rows).
pair_token_sums as (
    {{ token_sums_over_users('token_sums') }}
),

priced_pair_usage as (
    select * from ({{ priced_token_usage('pair_token_sums', []) }}) as priced_pair_token_sums
),

labeled_requests as (
    select
        *,
        coalesce(sql_model, '(none)') as sql_model_label,
        coalesce(response_model, '(none)') as response_model_label,
        case when not is_error then nl_to_sql_duration_ms end as successful_nl_to_sql_ms,
        case when not is_error then response_generation_duration_ms end
            as successful_response_generation_ms,
        case when not is_error then ttfb_ms end as successful_ttfb_ms
    from requests
),

aggregated as (
    select
        sql_model_label as sql_model,
        response_model_label as response_model,
        cast(count(*) as {{ dbt.type_bigint() }}) as requests,
        {{ safe_divide('sum(case when is_error then 1 else 0 end)', 'count(*)') }} as error_rate,
        cast(avg(successful_nl_to_sql_ms) as {{ type_double() }}) as avg_nl_to_sql_ms,
        {{ percentiles_cont('successful_nl_to_sql_ms', [0.5, 0.95]) }}
            as nl_to_sql_percentiles_ms,
        cast(avg(successful_response_generation_ms) as {{ type_double() }})
            as avg_response_generation_ms,
        {{ percentiles_cont('successful_response_generation_ms', [0.5, 0.95]) }}
            as response_generation_percentiles_ms,
        cast(avg(successful_ttfb_ms) as {{ type_double() }}) as avg_ttfb_ms,
        cast({{ percentile_cont('successful_ttfb_ms', 0.95) }} as {{ type_double() }})
            as p95_ttfb_ms,
        cast(avg(sql_input_tokens) as {{ type_double() }}) as avg_sql_input_tokens,
        cast(avg(sql_output_tokens) as {{ type_double() }}) as avg_sql_output_tokens,
        cast(avg(response_input_tokens) as {{ type_double() }}) as avg_response_input_tokens,
        cast(avg(response_output_tokens) as {{ type_double() }}) as avg_response_output_tokens
    from labeled_requests
    group by sql_model_label, response_model_label
),

-- The percentiles of one column come from one aggregate (percentiles_cont: one sort or one
-- value map per column, not one per percentile).
unpacked as (
    select
        sql_model,
        response_model,
        {{ window_start_date() }} as window_start_date,
        {{ as_of_date() }} as window_end_date,
        requests,
        error_rate,
        avg_nl_to_sql_ms,
        cast({{ array_element('nl_to_sql_percentiles_ms', 0) }} as {{ type_double() }})
            as p50_nl_to_sql_ms,
        cast({{ array_element('nl_to_sql_percentiles_ms', 1) }} as {{ type_double() }})
            as p95_nl_to_sql_ms,
        avg_response_generation_ms,
        cast({{ array_element('response_generation_percentiles_ms', 0) }} as {{ type_double() }})
            as p50_response_generation_ms,
        cast({{ array_element('response_generation_percentiles_ms', 1) }} as {{ type_double() }})
            as p95_response_generation_ms,
        avg_ttfb_ms,
        p95_ttfb_ms,
        avg_sql_input_tokens,
        avg_sql_output_tokens,
        avg_response_input_tokens,
        avg_response_output_tokens
    from aggregated
),

costs_per_pair as (
    select
        coalesce(sql_model, '(none)') as sql_model,
        coalesce(response_model, '(none)') as response_model,
        sum(case when not has_unknown_cost then known_cost_usd end) as priced_cost_usd,
        sum(case when not has_unknown_cost then requests else 0 end) as priced_requests
    from priced_pair_usage
    group by coalesce(sql_model, '(none)'), coalesce(response_model, '(none)')
),

joined as (
    select
        unpacked.*,
        {{ strip_model_snapshot('unpacked.sql_model') }} as sql_model_family,
        {{ strip_model_snapshot('unpacked.response_model') }} as response_model_family,
        cast(
            costs_per_pair.priced_cost_usd / nullif(costs_per_pair.priced_requests, 0)
            as {{ type_usd() }}
        ) as avg_cost_usd,
        cast(coalesce(costs_per_pair.priced_requests, 0) as {{ dbt.type_bigint() }})
            as priced_requests
    from unpacked
    left join costs_per_pair
        on
            unpacked.sql_model = costs_per_pair.sql_model
            and unpacked.response_model = costs_per_pair.response_model
)

select * from joined
