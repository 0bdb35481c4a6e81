"""The seven reports of the plan, each as a query on raw telemetry and as one on the marts.

The raw queries are what a team would write without the marts (the plan's SQL snippets): they
read `public.chat_telemetry_log` and price with the seed. Both versions must return the same
answer; the benchmark checks that before it trusts a timing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Report:
    name: str
    raw_sql: str
    mart_sql: str


# {window_start} and {window_end} are date literals; {marts} and {internal} schema names.
_RAW_REQUESTS = """
    select t.*, (t.created_at at time zone 'UTC')::date as request_date
    from public.chat_telemetry_log as t
    where t.created_at >= {window_start}::timestamp at time zone 'UTC'
      and t.created_at < ({window_end} + 1)::timestamp at time zone 'UTC'
"""
_RAW_PRICED_STEPS = (
    """
    with requests as ("""
    + _RAW_REQUESTS
    + """),
    steps as (
        select request_date, user_id, log_id, 'sql' as step,
               coalesce(sql_model, '(unknown)') as model,
               sql_service_tier as reported_tier,
               coalesce(sql_input_tokens, 0) as input_tokens,
               coalesce(sql_cached_tokens, 0) as cached_tokens,
               coalesce(sql_cache_write_tokens, 0) as cache_write_tokens,
               coalesce(sql_output_tokens, 0) as output_tokens,
               sql_input_tokens is not null and sql_output_tokens is not null as counts_known
        from requests
        where sql_model is not null or sql_input_tokens is not null or sql_output_tokens is not null
        union all
        select request_date, user_id, log_id, 'response', coalesce(response_model, '(unknown)'),
               response_service_tier,
               coalesce(response_input_tokens, 0), coalesce(response_cached_tokens, 0),
               coalesce(response_cache_write_tokens, 0), coalesce(response_output_tokens, 0),
               response_input_tokens is not null and response_output_tokens is not null
        from requests
        where response_model is not null or response_input_tokens is not null
           or response_output_tokens is not null
    ),
    billed as (
        -- The tier that served the call (not reported: default; gpt-6.1's `fast`: priority).
        select *,
               case lower(trim(coalesce(reported_tier, '')))
                   when '' then 'default' when 'fast' then 'priority'
                   else lower(trim(reported_tier)) end as tier
        from steps
    ),
    matched as (
        -- The price row in force for the model and tier: its own (e), else its snapshot
        -- base's (b); every price from the same row.
        select s.*,
               case when e.model is not null then e.input_usd_per_1m
                    else b.input_usd_per_1m end as input_usd_per_1m,
               case when e.model is not null then e.cached_input_usd_per_1m
                    else b.cached_input_usd_per_1m end as cached_input_usd_per_1m,
               case when e.model is not null
                    then coalesce(e.cache_write_input_usd_per_1m, e.input_usd_per_1m)
                    else coalesce(b.cache_write_input_usd_per_1m, b.input_usd_per_1m)
               end as write_usd_per_1m,
               case when e.model is not null then e.output_usd_per_1m
                    else b.output_usd_per_1m end as output_usd_per_1m,
               case when e.model is not null then e.long_context_input_usd_per_1m
                    else b.long_context_input_usd_per_1m end as long_input_usd_per_1m,
               case when e.model is not null then e.long_context_cached_input_usd_per_1m
                    else b.long_context_cached_input_usd_per_1m end as long_cached_usd_per_1m,
               case when e.model is not null
                    then coalesce(e.long_context_cache_write_input_usd_per_1m,
                                  e.long_context_input_usd_per_1m)
                    else coalesce(b.long_context_cache_write_input_usd_per_1m,
                                  b.long_context_input_usd_per_1m)
               end as long_write_usd_per_1m,
               case when e.model is not null then e.long_context_output_usd_per_1m
                    else b.long_context_output_usd_per_1m end as long_output_usd_per_1m,
               -- Long context is decided per call: its input above the threshold.
               coalesce(s.input_tokens > case when e.model is not null
                    then e.long_context_threshold_tokens
                    else b.long_context_threshold_tokens end, false) as is_long
        from billed as s
        left join {internal}.token_prices as e
          on e.model = s.model and e.service_tier = s.tier and s.request_date >= e.valid_from
         and (e.valid_to is null or s.request_date < e.valid_to)
        left join {internal}.token_prices as b
          on e.model is null and b.model <> s.model and b.service_tier = s.tier
         and b.model = regexp_replace(s.model, '-[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$', '')
         and s.request_date >= b.valid_from and (b.valid_to is null or s.request_date < b.valid_to)
    ),
    priced as (
        select m.*,
               -- A step without both token counts has an unknown cost (NULL), never 0.
               case when m.counts_known and not m.is_long then
               ((m.input_tokens - m.cached_tokens - m.cache_write_tokens) * m.input_usd_per_1m
                + m.cached_tokens * m.cached_input_usd_per_1m
                + m.cache_write_tokens * m.write_usd_per_1m
                + m.output_tokens * m.output_usd_per_1m) / 1000000.0
               when m.counts_known then
               ((m.input_tokens - m.cached_tokens - m.cache_write_tokens) * m.long_input_usd_per_1m
                + m.cached_tokens * m.long_cached_usd_per_1m
                + m.cache_write_tokens * m.long_write_usd_per_1m
                + m.output_tokens * m.long_output_usd_per_1m) / 1000000.0
               end as cost_usd
        from matched as m
    )
"""
)

REPORTS = (
    Report(
        "token_cost_by_day_and_model",
        _RAW_PRICED_STEPS
        + """
        select request_date, model, count(*) as requests, round(sum(cost_usd), 9) as cost_usd
        from priced group by request_date, model order by request_date, model
        """,
        """
        select request_date, model, sum(requests) as requests, round(sum(total_cost_usd), 9)
        from {marts}.fct_daily_token_cost
        where request_date between {window_start} and {window_end}
        group by request_date, model order by request_date, model
        """,
    ),
    Report(
        "latency_percentiles_by_day_and_step",
        "with requests as ("
        + _RAW_REQUESTS
        + """),
        durations as (
            select request_date, step, duration_ms
            from requests
            cross join lateral (values
                ('nl_to_sql', nl_to_sql_duration_ms),
                ('sql_execution', sql_execution_duration_ms),
                ('response_generation', response_generation_duration_ms),
                ('ttfb', ttfb_ms)) as d(step, duration_ms)
            where error_type is null and duration_ms is not null
        )
        select request_date, step, count(*),
               round(percentile_cont(0.5) within group (order by duration_ms)::numeric, 6),
               round(percentile_cont(0.95) within group (order by duration_ms)::numeric, 6),
               round(percentile_cont(0.99) within group (order by duration_ms)::numeric, 6)
        from durations group by request_date, step order by request_date, step
        """,
        """
        select request_date, step, requests, round(p50_ms::numeric, 6),
               round(p95_ms::numeric, 6), round(p99_ms::numeric, 6)
        from {marts}.fct_daily_step_latency
        where request_date between {window_start} and {window_end}
        order by request_date, step
        """,
    ),
    Report(
        "error_breakdown_30d",
        "with requests as ("
        + _RAW_REQUESTS
        + """)
        select error_type, coalesce(failed_step, 'unknown'), count(*)
        from requests where error_type is not null
        group by 1, 2 order by 1, 2
        """,
        """
        select error_type, failed_step, sum(errors)
        from {marts}.fct_daily_errors
        where request_date between {window_start} and {window_end}
        group by 1, 2 order by 1, 2
        """,
    ),
    Report(
        "user_usage_30d",
        _RAW_PRICED_STEPS
        + """,
        per_user as (
            select user_id, count(*) as requests,
                   count(*) filter (where error_type is not null) as errors,
                   count(*) filter (where is_off_topic) as off_topic_requests
            from requests group by user_id
        ),
        tokens as (
            select user_id, sum(input_tokens + output_tokens) as total_tokens,
                   round(sum(cost_usd), 9) as cost_usd
            from priced group by user_id
        )
        select p.user_id, p.requests, coalesce(t.total_tokens, 0), t.cost_usd, p.errors,
               p.off_topic_requests
        from per_user as p left join tokens as t using (user_id)
        order by p.user_id
        """,
        """
        select user_id, requests, total_tokens, round(total_cost_usd, 9), errors,
               off_topic_requests
        from {marts}.rpt_user_usage_30d order by user_id
        """,
    ),
    Report(
        "top_sql_patterns",
        """
        select sql_fingerprint, count(*) as occurrences
        from public.chat_telemetry_log where sql_fingerprint is not null
        group by sql_fingerprint order by occurrences desc, sql_fingerprint limit 20
        """,
        """
        select sql_fingerprint, occurrences
        from {marts}.fct_sql_fingerprints order by occurrences desc, sql_fingerprint limit 20
        """,
    ),
    Report(
        "off_topic_rate_by_day",
        "with requests as ("
        + _RAW_REQUESTS
        + """)
        select request_date, count(*), count(*) filter (where is_off_topic),
               round(avg(case when is_off_topic then 1.0 else 0.0 end), 9)
        from requests group by request_date order by request_date
        """,
        """
        select request_date, requests, off_topic_requests, round(off_topic_rate::numeric, 9)
        from {marts}.fct_daily_off_topic
        where request_date between {window_start} and {window_end}
        order by request_date
        """,
    ),
    Report(
        "model_comparison_30d",
        "with requests as ("
        + _RAW_REQUESTS
        + """)
        select coalesce(sql_model, '(none)'), coalesce(response_model, '(none)'), count(*),
               round((count(*) filter (where error_type is not null))::numeric / count(*), 9),
               round((percentile_cont(0.95) within group (order by
                   case when error_type is null then ttfb_ms end))::numeric, 6)
        from requests where sql_model is not null or response_model is not null
        group by 1, 2 order by 1, 2
        """,
        """
        select sql_model, response_model, requests, round(error_rate::numeric, 9),
               round(p95_ttfb_ms::numeric, 6)
        from {marts}.fct_model_comparison order by 1, 2
        """,
    ),
)
