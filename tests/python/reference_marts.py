"""The marts computed again in plain Python, from the raw rows, without SQL or dbt.

Written from the issue's definitions, not from the models, so that a mistake in a model shows
up as a difference. Money is Decimal (exact, as Postgres numeric); latency and rates are float.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

PRICES_CSV = Path(__file__).resolve().parents[2] / "seeds" / "token_prices.csv"
SNAPSHOT_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Rates:
    """USD per 1M tokens: uncached input, cached input, cache-write input, output."""

    input_per_1m: Decimal
    cached_per_1m: Decimal
    cache_write_per_1m: Decimal
    output_per_1m: Decimal


@dataclass(frozen=True)
class Price:
    model: str
    service_tier: str
    valid_from: date
    valid_to: date | None
    short: Rates
    long_context_threshold: int | None
    long: Rates | None  # None: a call above the threshold has no price (unknown cost)


def _optional(text: str) -> Decimal | None:
    return Decimal(text) if text.strip() else None


def load_prices(path: Path = PRICES_CSV) -> list[Price]:
    prices = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            short_input = Decimal(row["input_usd_per_1m"])
            short = Rates(
                short_input,
                Decimal(row["cached_input_usd_per_1m"]),
                _optional(row["cache_write_input_usd_per_1m"]) or short_input,
                Decimal(row["output_usd_per_1m"]),
            )
            long_input = _optional(row["long_context_input_usd_per_1m"])
            long = None
            if long_input is not None:
                long = Rates(
                    long_input,
                    Decimal(row["long_context_cached_input_usd_per_1m"]),
                    _optional(row["long_context_cache_write_input_usd_per_1m"]) or long_input,
                    Decimal(row["long_context_output_usd_per_1m"]),
                )
            threshold = row["long_context_threshold_tokens"].strip()
            prices.append(
                Price(
                    row["model"],
                    row["service_tier"],
                    date.fromisoformat(row["valid_from"]),
                    date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
                    short,
                    int(threshold) if threshold else None,
                    long,
                )
            )
    return prices


def billed_tier(reported: str | None) -> str:
    """The tier a call is priced at: as the response reported it, NULL or empty as default,
    and `fast` (gpt-6.1's name) as priority."""
    tier = (reported or "").strip().lower() or "default"
    return "priority" if tier == "fast" else tier


def price_for(
    prices: list[Price], model: str, utc_day: date, tier: str = "default"
) -> Price | None:
    def in_force(name: str) -> Price | None:
        for price in prices:
            in_window = price.valid_to is None or utc_day < price.valid_to
            if (
                price.model == name
                and price.service_tier == tier
                and price.valid_from <= utc_day
                and in_window
            ):
                return price
        return None

    exact = in_force(model)
    if exact is not None:
        return exact
    base = SNAPSHOT_SUFFIX.sub("", model)
    return in_force(base) if base != model else None


def percentile_cont(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass(frozen=True)
class Step:
    request: dict[str, Any]
    step: str
    model: str
    input_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    output_tokens: int
    service_tier: str
    is_long_context: bool
    # uncached input, cached input, cache-write input, output
    costs: tuple[Decimal, Decimal, Decimal, Decimal] | None
    has_price: bool  # a seed row in force for the model and tier that UTC day


def model_family(model: str) -> str:
    return SNAPSHOT_SUFFIX.sub("", model)


class Reference:
    """The marts' expected contents. `latest_trusted_at`: rows stamped later come from a skewed
    clock and are in no mart; `prices_csv`: the seed as it is at build time."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        timezone: str,
        as_of: date,
        *,
        latest_trusted_at: datetime | None = None,
        prices_csv: Path = PRICES_CSV,
    ) -> None:
        self.rows = [
            row
            for row in rows
            if latest_trusted_at is None or row["created_at"] <= latest_trusted_at
        ]
        self.zone = ZoneInfo(timezone)
        self.as_of = as_of
        self.window_start = as_of - timedelta(days=29)
        self.prices = load_prices(prices_csv)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def steps(self) -> list[Step]:
        result = []
        for row in self.rows:
            for step in ("sql", "response"):
                model = row[f"{step}_model"]
                tokens_in = row[f"{step}_input_tokens"]
                tokens_out = row[f"{step}_output_tokens"]
                if model is None and tokens_in is None and tokens_out is None:
                    continue
                model = model or "(unknown)"
                # A cost needs both counts: a missing one makes it unknown, never 0.
                counts_known = tokens_in is not None and tokens_out is not None
                tokens_in = tokens_in or 0
                tokens_out = tokens_out or 0
                cached = row[f"{step}_cached_tokens"] or 0
                written = row.get(f"{step}_cache_write_tokens") or 0
                tier = billed_tier(row.get(f"{step}_service_tier"))
                utc_day = row["created_at"].astimezone(ZoneInfo("UTC")).date()
                price = price_for(self.prices, model, utc_day, tier)
                # Long context is decided per call, on its own input tokens.
                is_long = bool(
                    price is not None
                    and price.long_context_threshold is not None
                    and tokens_in > price.long_context_threshold
                )
                rates = None if price is None else (price.long if is_long else price.short)
                costs = None
                if rates is not None and counts_known:
                    costs = (
                        (tokens_in - cached - written) * rates.input_per_1m / MILLION,
                        cached * rates.cached_per_1m / MILLION,
                        written * rates.cache_write_per_1m / MILLION,
                        tokens_out * rates.output_per_1m / MILLION,
                    )
                result.append(
                    Step(
                        row,
                        step,
                        model,
                        tokens_in,
                        cached,
                        written,
                        tokens_out,
                        tier,
                        is_long,
                        costs,
                        price is not None,
                    )
                )
        return result

    # ------------------------------------------------------------------ marts

    def daily_token_cost(self) -> dict[tuple, dict[str, Any]]:
        groups: dict[tuple, list[Step]] = defaultdict(list)
        for step in self.steps():
            groups[(self.local_day(step.request["created_at"]), step.step, step.model)].append(step)
        result = {}
        for key, steps in groups.items():
            priced = [s.costs for s in steps if s.costs is not None]
            parts = [sum(c[i] for c in priced) if priced else None for i in range(4)]
            result[key] = {
                "model_family": model_family(key[2]),
                "requests": len(steps),
                "input_tokens": sum(s.input_tokens for s in steps),
                "cached_input_tokens": sum(s.cached_tokens for s in steps),
                "cache_write_input_tokens": sum(s.cache_write_tokens for s in steps),
                "output_tokens": sum(s.output_tokens for s in steps),
                "default_tier_requests": sum(1 for s in steps if s.service_tier == "default"),
                "flex_tier_requests": sum(1 for s in steps if s.service_tier == "flex"),
                "priority_tier_requests": sum(1 for s in steps if s.service_tier == "priority"),
                "other_tier_requests": sum(
                    1 for s in steps if s.service_tier not in ("default", "flex", "priority")
                ),
                "long_context_requests": sum(1 for s in steps if s.is_long_context),
                "input_cost_usd": parts[0],
                "cached_input_cost_usd": parts[1],
                "cache_write_input_cost_usd": parts[2],
                "output_cost_usd": parts[3],
                "total_cost_usd": sum(sum(c) for c in priced) if priced else None,
                "unpriced_requests": sum(1 for s in steps if s.costs is None),
                "unpriced_model_requests": sum(1 for s in steps if not s.has_price),
            }
        return result

    def daily_step_latency(self) -> dict[tuple, dict[str, Any]]:
        columns = {
            "nl_to_sql": "nl_to_sql_duration_ms",
            "sql_execution": "sql_execution_duration_ms",
            "response_generation": "response_generation_duration_ms",
            "ttfb": "ttfb_ms",
        }
        groups: dict[tuple, list[float]] = defaultdict(list)
        for row in self.rows:
            if row["error_type"] is not None:
                continue
            for step, column in columns.items():
                if row[column] is not None:
                    groups[(self.local_day(row["created_at"]), step)].append(row[column])
        return {
            key: {
                "requests": len(values),
                "avg_ms": sum(values) / len(values),
                "p50_ms": percentile_cont(values, 0.5),
                "p95_ms": percentile_cont(values, 0.95),
                "p99_ms": percentile_cont(values, 0.99),
                "max_ms": float(max(values)),
            }
            for key, values in groups.items()
        }

    def daily_errors(self) -> dict[tuple, dict[str, Any]]:
        per_day: dict[date, int] = defaultdict(int)
        errors: dict[tuple, int] = defaultdict(int)
        for row in self.rows:
            day = self.local_day(row["created_at"])
            per_day[day] += 1
            if row["error_type"] is not None:
                errors[(day, row["error_type"], row["failed_step"] or "unknown")] += 1
        errors_per_day: dict[date, int] = defaultdict(int)
        for (day, _, _), count in errors.items():
            errors_per_day[day] += count
        return {
            key: {
                "errors": count,
                "requests_on_day": per_day[key[0]],
                "error_rate": count / per_day[key[0]],
                "share_of_errors": count / errors_per_day[key[0]],
            }
            for key, count in errors.items()
        }

    def daily_user_usage(self) -> dict[tuple, dict[str, Any]]:
        result: dict[tuple, dict[str, Any]] = {}
        for row in self.rows:
            key = (self.local_day(row["created_at"]), row["user_id"])
            entry = result.setdefault(
                key,
                {
                    "requests": 0, "input_tokens": 0, "cached_input_tokens": 0,
                    "output_tokens": 0, "total_tokens": 0, "total_cost_usd": None,
                    "priced_requests_cost_usd": None,
                    "has_unpriced_usage": False, "unpriced_requests": 0, "errors": 0,
                    "off_topic_requests": 0,
                    "first_request_at": row["created_at"], "last_request_at": row["created_at"],
                },
            )  # fmt: skip
            entry["requests"] += 1
            entry["errors"] += row["error_type"] is not None
            entry["off_topic_requests"] += bool(row["is_off_topic"])
            entry["first_request_at"] = min(entry["first_request_at"], row["created_at"])
            entry["last_request_at"] = max(entry["last_request_at"], row["created_at"])
        unpriced_request_ids = set()
        for step in self.steps():
            entry = result[(self.local_day(step.request["created_at"]), step.request["user_id"])]
            if step.costs is None and step.request["log_id"] not in unpriced_request_ids:
                unpriced_request_ids.add(step.request["log_id"])
                entry["unpriced_requests"] += 1
            entry["input_tokens"] += step.input_tokens
            entry["cached_input_tokens"] += step.cached_tokens
            entry["output_tokens"] += step.output_tokens
            entry["total_tokens"] += step.input_tokens + step.output_tokens
            if step.costs is None:
                entry["has_unpriced_usage"] = True
            else:
                entry["total_cost_usd"] = (entry["total_cost_usd"] or Decimal(0)) + sum(step.costs)
        # The cost of the requests whose every step is priced (a request with no step adds
        # nothing to it but counts among requests - unpriced_requests).
        for step in self.steps():
            if step.costs is not None and step.request["log_id"] not in unpriced_request_ids:
                entry = result[
                    (self.local_day(step.request["created_at"]), step.request["user_id"])
                ]
                entry["priced_requests_cost_usd"] = (
                    entry["priced_requests_cost_usd"] or Decimal(0)
                ) + sum(step.costs)
        return result

    def user_usage_30d(self) -> dict[tuple, dict[str, Any]]:
        result: dict[tuple, dict[str, Any]] = {}
        for (day, user_id), usage in self.daily_user_usage().items():
            if not self.window_start <= day <= self.as_of:
                continue
            entry = result.setdefault(
                (user_id,),
                {
                    "window_start_date": self.window_start, "window_end_date": self.as_of,
                    "requests": 0, "total_tokens": 0, "total_cost_usd": None, "errors": 0,
                    "unpriced_requests": 0,
                    "off_topic_requests": 0, "first_request_at": usage["first_request_at"],
                    "last_request_at": usage["last_request_at"],
                },
            )  # fmt: skip
            for name in (
                "requests",
                "total_tokens",
                "errors",
                "off_topic_requests",
                "unpriced_requests",
            ):
                entry[name] += usage[name]
            if usage["total_cost_usd"] is not None:
                entry["total_cost_usd"] = (entry["total_cost_usd"] or 0) + usage["total_cost_usd"]
            entry["first_request_at"] = min(entry["first_request_at"], usage["first_request_at"])
            entry["last_request_at"] = max(entry["last_request_at"], usage["last_request_at"])
        return result

    def sql_fingerprints(self, fingerprint_of) -> dict[tuple, dict[str, Any]]:
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.rows:
            if row["generated_sql"] is not None:
                groups[fingerprint_of(row["generated_sql"])].append(row)
        result = {}
        for fingerprint, rows in groups.items():
            latest = max(rows, key=lambda r: (r["created_at"], str(r["log_id"])))
            executions = [r["sql_execution_duration_ms"] for r in rows]
            executions = [value for value in executions if value is not None]
            counts = [r["result_row_count"] for r in rows if r["result_row_count"] is not None]
            result[(fingerprint,)] = {
                "occurrences": len(rows),
                "example_sql": latest["generated_sql"],
                "avg_sql_execution_ms": sum(executions) / len(executions) if executions else None,
                "avg_result_row_count": sum(counts) / len(counts) if counts else None,
                "errors": sum(1 for r in rows if r["error_type"] is not None),
                "empty_results": sum(
                    1 for r in rows if r["error_type"] is None and r["result_row_count"] == 0
                ),
                "first_seen_at": min(r["created_at"] for r in rows),
                "last_seen_at": max(r["created_at"] for r in rows),
            }
        return result

    def daily_off_topic(self) -> dict[tuple, dict[str, Any]]:
        counts: dict[date, list[int]] = defaultdict(lambda: [0, 0])
        for row in self.rows:
            entry = counts[self.local_day(row["created_at"])]
            entry[0] += 1
            entry[1] += bool(row["is_off_topic"])
        return {
            (day,): {"requests": total, "off_topic_requests": off, "off_topic_rate": off / total}
            for day, (total, off) in counts.items()
        }

    def model_comparison(self) -> dict[tuple, dict[str, Any]]:
        request_costs: dict[Any, list] = defaultdict(list)
        for step in self.steps():
            request_costs[step.request["log_id"]].append(step.costs)
        groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
        for row in self.rows:
            if not self.window_start <= self.local_day(row["created_at"]) <= self.as_of:
                continue
            if row["sql_model"] is None and row["response_model"] is None:
                continue
            groups[(row["sql_model"] or "(none)", row["response_model"] or "(none)")].append(row)

        def stats(values: list[Any]) -> list[float]:
            return [value for value in values if value is not None]

        result = {}
        for key, rows in groups.items():
            ok = [r for r in rows if r["error_type"] is None]
            nl = stats([r["nl_to_sql_duration_ms"] for r in ok])
            rg = stats([r["response_generation_duration_ms"] for r in ok])
            tt = stats([r["ttfb_ms"] for r in ok])
            costs = []
            for r in rows:
                parts = request_costs.get(r["log_id"], [])
                if parts and all(part is not None for part in parts):
                    costs.append(sum(sum(part) for part in parts))

            def mean(values: list[float]) -> float | None:
                return sum(values) / len(values) if values else None

            def pct(values: list[float], fraction: float) -> float | None:
                return percentile_cont(values, fraction) if values else None

            result[key] = {
                "sql_model_family": model_family(key[0]),
                "response_model_family": model_family(key[1]),
                "window_start_date": self.window_start,
                "window_end_date": self.as_of,
                "requests": len(rows),
                "error_rate": (len(rows) - len(ok)) / len(rows),
                "avg_nl_to_sql_ms": mean(nl),
                "p50_nl_to_sql_ms": pct(nl, 0.5),
                "p95_nl_to_sql_ms": pct(nl, 0.95),
                "avg_response_generation_ms": mean(rg),
                "p50_response_generation_ms": pct(rg, 0.5),
                "p95_response_generation_ms": pct(rg, 0.95),
                "avg_ttfb_ms": mean(tt),
                "p95_ttfb_ms": pct(tt, 0.95),
                "avg_sql_input_tokens": mean(stats([r["sql_input_tokens"] for r in rows])),
                "avg_sql_output_tokens": mean(stats([r["sql_output_tokens"] for r in rows])),
                "avg_response_input_tokens": mean(
                    stats([r["response_input_tokens"] for r in rows])
                ),
                "avg_response_output_tokens": mean(
                    stats([r["response_output_tokens"] for r in rows])
                ),
                "avg_cost_usd": (sum(costs) / len(costs)) if costs else None,
                "priced_requests": len(costs),
            }
        return result

    # ------------------------------------------------------------ answer quality (issue 23)

    def answer_quality_flags(self, reask_window_minutes: int = 5) -> dict[Any, dict[str, bool]]:
        """Per request (by log_id): empty result, re-asked, has suggestions, suggestion
        followed, from the issue's definitions: the next request is the conversation's next by
        created_at (then log_id); requests without a conversation are never re-asked or
        followed; questions and suggestions are compared after normalising both."""
        by_conversation: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for row in self.rows:
            if row.get("conversation_id") is not None:
                by_conversation[row["conversation_id"]].append(row)
        next_of: dict[Any, dict[str, Any]] = {}
        for rows in by_conversation.values():
            ordered = sorted(rows, key=lambda r: (r["created_at"], str(r["log_id"])))
            for earlier, later in itertools.pairwise(ordered):
                next_of[earlier["log_id"]] = later
        window = timedelta(minutes=reask_window_minutes)
        flags = {}
        for row in self.rows:
            empty = (
                row["generated_sql"] is not None
                and row["error_type"] is None
                and row["result_row_count"] == 0
            )
            failed_or_empty = row["error_type"] is not None or empty
            following = next_of.get(row["log_id"])
            suggestions = row.get("follow_up_suggestions") or []
            wanted = {normalise(text) for text in suggestions if isinstance(text, str)}
            flags[row["log_id"]] = {
                "empty": empty,
                "failed_or_empty": failed_or_empty,
                "reasked": bool(
                    failed_or_empty
                    and following is not None
                    and following["created_at"] - row["created_at"] <= window
                ),
                "has_suggestions": bool(suggestions),
                "followed": bool(
                    suggestions
                    and following is not None
                    and normalise(following.get("user_question") or "") in wanted
                ),
            }
        return flags

    def daily_answer_quality(self) -> dict[tuple, dict[str, Any]]:
        flags = self.answer_quality_flags()
        result: dict[tuple, dict[str, Any]] = {}
        for row in self.rows:
            key = (self.local_day(row["created_at"]), row["sql_model"] or "(none)")
            entry = result.setdefault(
                key,
                {
                    "requests": 0, "requests_with_sql": 0, "empty_results": 0, "sql_errors": 0,
                    "sql_generation_errors": 0, "sql_validation_errors": 0,
                    "sql_execution_errors": 0, "failed_or_empty_requests": 0,
                    "reasked_requests": 0, "requests_with_suggestions": 0,
                    "suggestions_followed": 0,
                },
            )  # fmt: skip
            flag = flags[row["log_id"]]
            entry["requests"] += 1
            entry["requests_with_sql"] += row["generated_sql"] is not None
            entry["empty_results"] += flag["empty"]
            if row["error_type"] in ("sql_generation", "sql_validation", "sql_execution"):
                entry["sql_errors"] += 1
                entry[f"{row['error_type']}_errors"] += 1
            entry["failed_or_empty_requests"] += flag["failed_or_empty"]
            entry["reasked_requests"] += flag["reasked"]
            entry["requests_with_suggestions"] += flag["has_suggestions"]
            entry["suggestions_followed"] += flag["followed"]

        def ratio(numerator: int, denominator: int) -> float | None:
            return numerator / denominator if denominator else None

        for entry in result.values():
            entry["empty_result_rate"] = ratio(entry["empty_results"], entry["requests_with_sql"])
            entry["sql_error_rate"] = ratio(entry["sql_errors"], entry["requests"])
            entry["reask_rate"] = ratio(
                entry["reasked_requests"], entry["failed_or_empty_requests"]
            )
            entry["suggestion_follow_rate"] = ratio(
                entry["suggestions_followed"], entry["requests_with_suggestions"]
            )
        return result

    def conversations(self) -> dict[tuple, dict[str, Any]]:
        flags = self.answer_quality_flags()
        step_costs: dict[Any, list] = defaultdict(list)
        for step in self.steps():
            step_costs[step.request["log_id"]].append(step.costs)
        groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for row in self.rows:
            if row.get("conversation_id") is not None:
                groups[row["conversation_id"]].append(row)
        result = {}
        for conversation_id, rows in groups.items():
            last = max(rows, key=lambda r: (r["created_at"], str(r["log_id"])))
            known = [
                sum(costs)
                for row in rows
                for costs in step_costs.get(row["log_id"], [])
                if costs is not None
            ]
            result[(conversation_id,)] = {
                "user_id": rows[0]["user_id"],
                "first_request_at": min(r["created_at"] for r in rows),
                "last_request_at": last["created_at"],
                "turns": len(rows),
                "errors": sum(1 for r in rows if r["error_type"] is not None),
                "empty_results": sum(1 for r in rows if flags[r["log_id"]]["empty"]),
                "off_topic_requests": sum(1 for r in rows if r["is_off_topic"]),
                "reasked_requests": sum(1 for r in rows if flags[r["log_id"]]["reasked"]),
                "suggestions_followed": sum(1 for r in rows if flags[r["log_id"]]["followed"]),
                "total_cost_usd": sum(known) if known else None,
                "unpriced_requests": sum(
                    1
                    for r in rows
                    if any(costs is None for costs in step_costs.get(r["log_id"], []))
                ),
                "ended_on_failure": flags[last["log_id"]]["failed_or_empty"],
                "first_request_date": min(self.local_day(r["created_at"]) for r in rows),
            }
        return result


def normalise(text: str) -> str:
    """Lowercase, trim, and every run of whitespace as one space."""
    return re.sub(r"[ \t\n\r\f\v]+", " ", text).strip(" ").lower()
