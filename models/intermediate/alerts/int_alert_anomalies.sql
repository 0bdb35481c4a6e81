-- One row per alert_date, rule and subject that fires one of the five anomaly rules
-- (cost_anomaly, error_rate_anomaly, latency_p95_regression, off_topic_rate_anomaly,
-- empty_result_rate_anomaly) on a
-- complete day. The baseline of a day is the median and the MAD (median absolute deviation)
-- of the same metric over the alert_baseline_days complete days before it. A day fires when
-- it has enough baseline days, its volume is enough, its robust z-score reaches
-- anomaly_min_robust_z and its change relative to the median reaches the rule's minimum. A
-- MAD of 0 (a baseline that never varied) leaves the z-score undefined: any deviation counts
-- and the relative change decides; a median of 0 makes any increase count as relative change.
-- Medians and MADs are exact decimals (exact_median), so that both engines agree to the digit.
{%- set baseline_day_count = telemetry_var('alert_baseline_days') | int %}
{%- set min_robust_z = telemetry_var('anomaly_min_robust_z') %}
{%- set error_multiple = telemetry_var('anomaly_error_multiple') %}
{%- set min_relative_change = {
    'cost_anomaly': telemetry_var('cost_anomaly_min_relative_change'),
    'error_rate_anomaly': telemetry_var('error_rate_anomaly_min_relative_change'),
    'latency_p95_regression': telemetry_var('latency_p95_min_relative_change'),
    'off_topic_rate_anomaly': telemetry_var('off_topic_rate_min_relative_change'),
    'empty_result_rate_anomaly': telemetry_var('empty_result_rate_min_relative_change'),
} %}

with

daily_metrics as (
    select * from {{ ref('int_alert_daily_metrics') }}
),

complete_days as (
    select * from daily_metrics
    where
        metric_date < {{ alert_run_date() }}
        and metric_date >= {{ alert_window_start_date() }}
),

paired_with_baseline_days as (
    select
        complete_days.metric_date,
        complete_days.rule,
        complete_days.subject,
        baseline_days.observed as baseline_value
    from complete_days
    inner join daily_metrics as baseline_days
        on
            complete_days.rule = baseline_days.rule
            and complete_days.subject = baseline_days.subject
            and complete_days.metric_date > baseline_days.metric_date
            and complete_days.metric_date
            <= {{ add_days('baseline_days.metric_date', baseline_day_count) }}
),

medians_beside_baseline_days as (
    {{ exact_median_beside_rows(
        'paired_with_baseline_days', 'baseline_value', 'baseline_median',
        count_name='baseline_days'
    ) }}
),

computed_deviations as (
    select
        metric_date,
        rule,
        subject,
        baseline_days,
        baseline_median,
        abs(baseline_value - baseline_median) as absolute_deviation
    from medians_beside_baseline_days
),

-- baseline_days and baseline_median are constant within a day, rule and subject: grouping
-- by them as well keeps them for the scoring without a join back to the medians
computed_baselines as (
    {{ exact_median(
        'computed_deviations', 'absolute_deviation', 'baseline_mad',
        group_columns=['metric_date', 'rule', 'subject', 'baseline_days', 'baseline_median']
    ) }}
),

scored as (
    select
        complete_days.metric_date,
        complete_days.rule,
        complete_days.subject,
        complete_days.observed,
        complete_days.events,
        computed_baselines.baseline_days,
        computed_baselines.baseline_median,
        computed_baselines.baseline_mad,
        complete_days.observed - computed_baselines.baseline_median as deviation,
        cast(complete_days.observed - computed_baselines.baseline_median as {{ type_double() }})
        / nullif(cast(computed_baselines.baseline_median as {{ type_double() }}), 0)
            as relative_change,
        cast(complete_days.observed - computed_baselines.baseline_median as {{ type_double() }})
        / nullif(1.4826 * cast(computed_baselines.baseline_mad as {{ type_double() }}), 0)
            as robust_z
    from complete_days
    inner join computed_baselines
        on
            complete_days.metric_date = computed_baselines.metric_date
            and complete_days.rule = computed_baselines.rule
            and complete_days.subject = computed_baselines.subject
),

thresholded as (
    select
        *,
        case rule
            when 'cost_anomaly' then {{ min_relative_change['cost_anomaly'] }}
            when 'error_rate_anomaly' then {{ min_relative_change['error_rate_anomaly'] }}
            when 'latency_p95_regression' then {{ min_relative_change['latency_p95_regression'] }}
            when 'off_topic_rate_anomaly' then {{ min_relative_change['off_topic_rate_anomaly'] }}
            when 'empty_result_rate_anomaly'
                then {{ min_relative_change['empty_result_rate_anomaly'] }}
        end as min_relative_change,
        case
            when rule = 'cost_anomaly'
                then observed >= {{ telemetry_var('cost_anomaly_min_usd') }}
            when rule = 'error_rate_anomaly'
                then events >= {{ telemetry_var('error_rate_anomaly_min_errors') }}
            when rule = 'latency_p95_regression'
                then events >= {{ telemetry_var('latency_p95_min_requests') }}
            when rule = 'off_topic_rate_anomaly'
                then events >= {{ telemetry_var('off_topic_rate_min_requests') }}
            when rule = 'empty_result_rate_anomaly'
                then events >= {{ telemetry_var('empty_result_rate_min_requests') }}
        end as has_enough_volume,
        deviation > 0 and coalesce(robust_z >= {{ min_robust_z }}, true)
            as is_far_above,
        deviation < 0 and coalesce(robust_z <= -{{ min_robust_z }}, true)
            as is_far_below
    from scored
    where baseline_days >= {{ telemetry_var('alert_min_baseline_days') }}
),

flagged as (
    select
        *,
        case
            when
                is_far_above
                and has_enough_volume
                and coalesce(relative_change >= min_relative_change, true)
                then 'up'
            when
                rule = 'cost_anomaly'
                and is_far_below
                and baseline_median >= {{ telemetry_var('cost_anomaly_min_usd') }}
                and relative_change <= -{{ telemetry_var('cost_anomaly_min_relative_drop') }}
                then 'down'
        end as direction
    from thresholded
),

graded as (
    select
        *,
        case
            when
                direction = 'up'
                and coalesce(
                    relative_change >= {{ error_multiple }} * min_relative_change,
                    true
                )
                and coalesce(
                    robust_z
                    >= {{ error_multiple }} * {{ min_robust_z }},
                    true
                )
                then 'error'
            else 'warn'
        end as severity
    from flagged
    where direction is not null
),

described as (
    select
        metric_date as alert_date,
        rule,
        subject,
        cast(observed as {{ type_usd() }}) as observed,
        cast(baseline_median as {{ type_usd() }}) as expected,
        severity,
        {{ anomaly_message() }} as message
    from graded
)

select * from described
