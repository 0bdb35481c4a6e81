-- One row per request_date, pricing_date, model and service tier that a step of a request
-- used. Small (days x models x tiers) and incremental, so it outlives a retention purge: it is
-- what the prices are matched for (int_token_prices_matched) and how a price change on a UTC
-- pricing day is traced to the request days (reporting time zone) that must be repriced.
--
-- Built afresh (first run after an upgrade, or a full refresh), it also takes the keys of the
-- token sums already built, which outlive a purge of the raw rows; it cannot ref() them (they
-- depend on this model), so it looks the table up by name.
{{ config(**daily_incremental_config()) }}

{%- set kept_sums = none -%}
{%- if execute and not is_incremental() -%}
    {%- set kept_sums = adapter.get_relation(
        database=this.database, schema=this.schema, identifier='int_token_usage_aggregated_daily'
    ) -%}
{%- endif -%}
{%- if kept_sums is not none -%}
    {%- set kept_columns = adapter.get_columns_in_relation(kept_sums) | map(attribute='name')
        | map('lower') | list -%}
{%- endif %}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ incremental_filter() }}
),

model_steps as (
    select 'sql' as step
    union all
    select 'response' as step
),

steps_used as (
    select
        requests.request_date,
        requests.pricing_date,
        case
            when model_steps.step = 'sql' then coalesce(requests.sql_model, '(unknown)')
            else coalesce(requests.response_model, '(unknown)')
        end as model,
        case
            when model_steps.step = 'sql' then requests.sql_service_tier
            else requests.response_service_tier
        end as service_tier
    from requests
    cross join model_steps
    where
        (
            model_steps.step = 'sql'
            and (
                requests.sql_model is not null
                or requests.sql_input_tokens is not null
                or requests.sql_output_tokens is not null
            )
        )
        or (
            model_steps.step = 'response'
            and (
                requests.response_model is not null
                or requests.response_input_tokens is not null
                or requests.response_output_tokens is not null
            )
        )
),

{%- if kept_sums is not none %}

kept_steps as (
    {%- for step in ['sql', 'response'] %}
    select
        request_date,
        pricing_date,
        coalesce({{ step }}_model, '(unknown)') as model,
        {%- if (step ~ '_service_tier') in kept_columns %}
        coalesce({{ step }}_service_tier, 'default') as service_tier
        {%- else %}
        'default' as service_tier
        {%- endif %}
    from {{ kept_sums }}
    where has_{{ step }}_step
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),
{%- endif %}

all_steps as (
    select * from steps_used
    {%- if kept_sums is not none %}
    union all
    select * from kept_steps
    {%- endif %}
),

deduplicated as (
    select distinct
        request_date,
        pricing_date,
        model,
        service_tier
    from all_steps
)

select * from deduplicated
