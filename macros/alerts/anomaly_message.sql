{#-
    The message of an anomaly alert (int_alert_anomalies), one sentence per rule: the day's
    value, its change against the baseline median and the robust z-score. An expression over
    the columns of int_alert_anomalies' graded rows: rule, subject, metric_date, observed,
    events, baseline_median, baseline_days, relative_change and robust_z.
-#}
{% macro anomaly_message() -%}
case rule
    when 'cost_anomaly'
        then
            'Cost of ' || subject || ' on ' || cast(metric_date as {{ dbt.type_string() }})
            || ' was ' || {{ alert_number('observed', 4) }} || ' USD, '
            || {{ alert_percent('relative_change') }}
            || ' against its median of ' || {{ alert_number('baseline_median', 4) }}
            || ' USD over the previous ' || cast(baseline_days as {{ dbt.type_string() }})
            || ' days (' || {{ alert_robust_z_text('robust_z') }} || ').'
    when 'error_rate_anomaly'
        then
            'Error rate of ' || subject || ' on '
            || cast(metric_date as {{ dbt.type_string() }}) || ' was '
            || {{ alert_number('100 * observed', 2) }} || '% ('
            || cast(events as {{ dbt.type_string() }}) || ' errors), against a median of '
            || {{ alert_number('100 * baseline_median', 2) }} || '% over the previous '
            || cast(baseline_days as {{ dbt.type_string() }}) || ' days ('
            || {{ alert_percent('relative_change') }} || ', '
            || {{ alert_robust_z_text('robust_z') }} || ').'
    when 'latency_p95_regression'
        then
            'p95 latency of ' || subject || ' on '
            || cast(metric_date as {{ dbt.type_string() }}) || ' was '
            || {{ alert_number('observed', 0) }} || ' ms over '
            || cast(events as {{ dbt.type_string() }})
            || ' successful requests, against a median of '
            || {{ alert_number('baseline_median', 0) }} || ' ms over the previous '
            || cast(baseline_days as {{ dbt.type_string() }}) || ' days ('
            || {{ alert_percent('relative_change') }} || ', '
            || {{ alert_robust_z_text('robust_z') }} || ').'
    when 'off_topic_rate_anomaly'
        then
            'Off-topic rate on ' || cast(metric_date as {{ dbt.type_string() }})
            || ' was ' || {{ alert_number('100 * observed', 2) }} || '% of '
            || cast(events as {{ dbt.type_string() }})
            || ' requests, against a median of '
            || {{ alert_number('100 * baseline_median', 2) }} || '% over the previous '
            || cast(baseline_days as {{ dbt.type_string() }}) || ' days ('
            || {{ alert_percent('relative_change') }} || ', '
            || {{ alert_robust_z_text('robust_z') }} || ').'
    when 'empty_result_rate_anomaly'
        then
            'Empty-result rate on ' || cast(metric_date as {{ dbt.type_string() }})
            || ' was ' || {{ alert_number('100 * observed', 2) }} || '% of '
            || cast(events as {{ dbt.type_string() }})
            || ' requests with SQL (ran, no error, no row), against a median of '
            || {{ alert_number('100 * baseline_median', 2) }} || '% over the previous '
            || cast(baseline_days as {{ dbt.type_string() }}) || ' days ('
            || {{ alert_percent('relative_change') }} || ', '
            || {{ alert_robust_z_text('robust_z') }} || ').'
end
{%- endmacro %}
