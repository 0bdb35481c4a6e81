-- One row per sql_fingerprint: the totals of the daily fingerprint rows of every day before
-- the settling boundary (settled_before_date), the days no scheduled run rebuilds any more
-- (macros/incremental/settled_fingerprints.sql). A scheduled run adds only the days that left the
-- lookback since the last run to the totals it recorded, so fct_sql_fingerprints never
-- re-adds all history; a full build recomputes them. On Spark the totals are rewritten whole,
-- one generation per boundary, from the previous generation and the newly settled days.
{{ config(**settled_fingerprints_config()) }}

{%- set boundary = settled_fingerprint_boundary() %}
{%- if settles_forward(boundary) %}
    {%- set newly_settled_filter = 'request_date >= ' ~ date_literal(boundary['previous'])
        ~ ' and request_date < ' ~ date_literal(boundary['new']) %}
    {%- set previous_totals = this %}
    {%- set carried_filter = settled_totals_carried_filter(boundary) %}
{%- else %}
    {%- if boundary['new'] is none %}
        {%- set newly_settled_filter = '1 = 0' %}
    {%- else %}
        {%- set newly_settled_filter = 'request_date < ' ~ date_literal(boundary['new']) %}
    {%- endif %}
    {#- recomputed: no recorded totals to add to (same columns, no rows) #}
    {%- set previous_totals = 'newly_settled_days' %}
    {%- set carried_filter = '1 = 0' %}
{%- endif %}

with

daily_fingerprints as (
    select * from {{ ref('int_sql_fingerprints_aggregated_daily') }}
),

newly_settled_days as (
    select * from daily_fingerprints
    where {{ newly_settled_filter }}
),

previously_settled as (
    select * from {{ previous_totals }}
    where {{ carried_filter }}
),

added_up as (
    {{ add_up_fingerprints(['newly_settled_days', 'previously_settled']) }}
),

stamped as (
    select
        *,
        {{ date_literal(boundary['new'] or '1970-01-01') }} as settled_before_date
    from added_up
)

select * from stamped
