"""A deterministic, realistic chat workload: users, conversations and one record per request.

Each distribution is drawn from real public data where one exists (data/real/NOTICE.md):
questions and generated SQL (BIRD, Spider), off-topic questions (sql-eval), token counts
(Azure LLM inference traces 2023), cached-prefix shares (Mooncake) and burst shape of arrivals
(Azure inter-arrival gaps). The README's workload table lists them with their parameters.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from telemetry_writer import ErrorType, FailedStep, TelemetryRecord

from chat_telemetry.workload.sources import Question, RealData, load

# Share of each model among requests. One SQL model is a fine-tune the price seed does not
# know (its cost stays NULL and the unpriced-usage test warns), and some requests name a dated
# snapshot, which the marts price as the base model.
SQL_MODELS = (
    ("gpt-4o-mini", 0.52),
    ("gpt-4o-mini-2024-07-18", 0.14),
    ("gpt-4.1-mini", 0.16),
    ("gpt-4o", 0.08),
    ("gpt-4.1", 0.04),
    ("ft:gpt-4o-mini-2024-07-18:acme:sql-v3", 0.06),
)
RESPONSE_MODELS = (
    ("gpt-4.1-mini", 0.55),
    ("gpt-4.1-mini-2025-04-14", 0.15),
    ("gpt-4o-mini", 0.22),
    ("gpt-5-mini", 0.08),
)
# Billing modes (how OpenAI bills a call besides its tokens; the price seed has each). A
# response call moves to a newer model from its release on: gpt-5.6-terra writes part of its
# prompt to the cache (cache writes), gpt-5.4 and gpt-5.6-terra sometimes take a long
# conversation over the 272k-token long-context threshold. A small share of calls report a
# flex or priority service tier once the seed has tier prices (from 2026-10-12); most report
# none (older SDK code), which the marts read as default. Drawn from a generator of their own,
# so that the rest of the workload stays the same for a seed.
NEWER_RESPONSE_MODELS = (
    ("gpt-5.6-terra", date(2026, 7, 30), 0.05),
    ("gpt-5.4", date(2026, 3, 5), 0.02),
)
LONG_CONTEXT_MODELS = ("gpt-5.4", "gpt-5.6-terra")
LONG_CONTEXT_SHARE = 0.03
LONG_CONTEXT_THRESHOLD_TOKENS = 272_000
TIER_PRICES_FROM = date(2026, 10, 12)
REPORTED_TIERS = ((None, 0.85), ("default", 0.10), ("flex", 0.03), ("priority", 0.02))
FLEX_MODEL_PREFIXES = ("gpt-5", "o3", "o4-mini")
CACHE_WRITE_MODEL_PREFIX = "gpt-5.6"

# Milliseconds per output token and a fixed base per call, by model family (typical
# published throughput of these models; the heavy tail is added separately).
TIME_PER_OUTPUT_TOKEN_MS = {"mini": 9.0, "large": 18.0}
PREFILL_MS_PER_1K_INPUT = {"mini": 35.0, "large": 70.0}
CALL_BASE_MS = {"mini": 220.0, "large": 380.0}

# (error_type, failed_step, share of errors, messages)
ERROR_KINDS: tuple[tuple[ErrorType, FailedStep | None, float, tuple[str, ...]], ...] = (
    (
        "sql_generation",
        "understanding",
        0.28,
        (
            "OpenAI API request timed out after 30s",
            "Rate limit reached for requests; retry after 2s",
            "Model returned no SQL statement",
        ),
    ),
    (
        "sql_validation",
        "understanding",
        0.22,
        (
            "Only SELECT statements are allowed",
            "Query references a table outside the allowed schema",
            "Generated SQL failed to parse",
        ),
    ),
    (
        "sql_execution",
        "looking_up",
        0.30,
        (
            "canceling statement due to statement timeout",
            "column does not exist",
            "division by zero",
            "relation does not exist",
        ),
    ),
    (
        "response_generation",
        "response",
        0.15,
        (
            "OpenAI API returned 502 Bad Gateway",
            "Response stream interrupted",
            "Context length exceeded for the response model",
        ),
    ),
    ("unexpected", None, 0.05, ("KeyError: 'choices'", "Worker restarted during the request")),
)
# Weekly rhythm (Monday first): business chat traffic drops at weekends.
WEEKDAY_FACTOR = (1.05, 1.1, 1.1, 1.05, 0.95, 0.55, 0.5)
# Hourly rhythm (UTC): a working-day curve with an evening tail.
HOURLY_WEIGHT = (
    0.25, 0.2, 0.18, 0.18, 0.22, 0.35, 0.6, 0.9, 1.3, 1.6, 1.75, 1.8,
    1.7, 1.75, 1.8, 1.7, 1.5, 1.3, 1.1, 0.95, 0.8, 0.65, 0.5, 0.35,
)  # fmt: skip
STATEMENT_TIMEOUT_MS = 30_000
# Answer quality. After a failure or an empty result, 45% of users ask again in the same
# conversation, a lognormal delay with a 100 s median (most within the 5-minute re-ask
# window, a tail beyond it); after an answer with suggestions, 25% take one (40 s median).
# No public NL-to-SQL trace records re-asks or followed suggestions: these shares and delays
# are stated assumptions, not measurements.
REASK_SHARE = 0.45
REASK_MEDIAN_S = 100.0
SUGGESTION_FOLLOW_SHARE = 0.25
FOLLOW_MEDIAN_S = 40.0
# A planned follow-up no arrival took within this long is dropped (the user went away).
FOLLOW_UP_GIVE_UP = timedelta(minutes=30)


@dataclass(frozen=True)
class WorkloadSettings:
    days: int = 30
    requests_per_day: int = 2000
    users: int = 300
    seed: int = 7
    end_date: date = field(default_factory=lambda: datetime.now(timezone.utc).date())
    error_rate: float = 0.045
    off_topic_rate: float = 0.06
    conversation_continue_rate: float = 0.6
    # No request after this instant (the demo passes "now", so today is only partly there).
    not_after: datetime | None = None


@dataclass(frozen=True)
class User:
    user_id: uuid.UUID
    email: str
    activity_weight: float


@dataclass(frozen=True)
class Conversation:
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime


@dataclass(order=True, frozen=True)
class FollowUp:
    """A request a user will make next in a conversation: a re-ask or a suggestion taken."""

    due_at: datetime
    order: int
    user_id: uuid.UUID | str = field(compare=False)
    conversation_id: uuid.UUID | str = field(compare=False)
    question: str = field(compare=False)


@dataclass
class Workload:
    users: list[User]
    conversations: list[Conversation]
    records: list[TelemetryRecord]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _weighted_choice(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    names = [name for name, _ in options]
    weights = [weight for _, weight in options]
    return rng.choices(names, weights=weights, k=1)[0]


def _family(model: str) -> str:
    return "mini" if ("mini" in model or "nano" in model) else "large"


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


class WorkloadGenerator:
    """Generates the same workload for the same settings (seed and end date)."""

    def __init__(self, settings: WorkloadSettings, data: RealData | None = None) -> None:
        self.settings = settings
        self.data = data or load()
        self.rng = random.Random(settings.seed)
        self.billing_rng = random.Random(settings.seed * 1_000_003 + 18)
        self.users = self._make_users()
        self._user_cumulative = _cumulative([user.activity_weight for user in self.users])
        # Popular questions recur (a Zipf law over a seeded shuffle), so that SQL fingerprints
        # repeat as they do in production; Spider's paraphrases add repeats of their own.
        self._bird = list(self.data.bird)
        self._spider = list(self.data.spider)
        self.rng.shuffle(self._bird)
        self.rng.shuffle(self._spider)
        self._bird_cumulative = _cumulative(
            [1 / (rank + 1) ** 0.9 for rank in range(len(self._bird))]
        )
        self._spider_cumulative = _cumulative(
            [1 / (rank + 1) ** 0.9 for rank in range(len(self._spider))]
        )
        self._hour_cumulative = _cumulative(list(HOURLY_WEIGHT))
        self._latest_conversation: dict[uuid.UUID, Conversation] = {}
        self.conversations: list[Conversation] = []
        # Answer quality: follow-ups planned after a request, taken by the next arrival due.
        self.quality_rng = random.Random(settings.seed * 1_000_003 + 23)
        self._follow_ups: list[FollowUp] = []
        self._follow_up_count = 0

    # ------------------------------------------------------------ population

    def _make_users(self) -> list[User]:
        """Heavy-tailed activity: a Pareto(1.16) weight, the 80/20 rule's shape."""
        users = []
        for number in range(self.settings.users):
            weight = self.rng.paretovariate(1.16)
            users.append(
                User(_uuid(self.rng), f"demo-user-{number:05d}@demo.chat-telemetry.invalid", weight)
            )
        return users

    def _pick(self, cumulative: list[float]) -> int:
        point = self.rng.random() * cumulative[-1]
        return min(bisect.bisect_left(cumulative, point), len(cumulative) - 1)

    # ------------------------------------------------------------ arrivals

    def _arrivals(self, day: date) -> list[datetime]:
        """This day's request times: the day's volume, shaped by the hourly curve, with the
        bursts of real inter-arrival gaps (gaps are drawn in 'busy time', which the hourly
        curve then stretches onto the clock)."""
        weekday = WEEKDAY_FACTOR[day.weekday()]
        mean = self.settings.requests_per_day * weekday
        count = max(0, round(self.rng.gauss(mean, math.sqrt(mean) * 1.5)))
        if count == 0:
            return []
        gaps = [self.rng.choice(self.data.inter_arrival_s) for _ in range(count)]
        total = sum(gaps) or 1.0
        elapsed = 0.0
        start = datetime.combine(day, time(0, 0), tzinfo=timezone.utc)
        arrivals = []
        for gap in gaps:
            elapsed += gap
            busy_fraction = elapsed / (total * 1.0001)
            arrivals.append(start + timedelta(seconds=self._clock_seconds(busy_fraction)))
        if self.settings.not_after is not None:
            arrivals = [at for at in arrivals if at <= self.settings.not_after]
        return arrivals

    def _clock_seconds(self, busy_fraction: float) -> float:
        """Map a fraction of the day's busy time onto the clock through the hourly curve."""
        target = busy_fraction * self._hour_cumulative[-1]
        hour = min(bisect.bisect_right(self._hour_cumulative, target), 23)
        before = self._hour_cumulative[hour - 1] if hour else 0.0
        within = (target - before) / HOURLY_WEIGHT[hour]
        return (hour + min(max(within, 0.0), 0.999999)) * 3600.0

    # ------------------------------------------------------------ one request

    def _conversation_for(self, user: User, at: datetime) -> Conversation:
        latest = self._latest_conversation.get(user.user_id)
        if (
            latest is not None
            and at - latest.created_at < timedelta(hours=2)
            and self.rng.random() < self.settings.conversation_continue_rate
        ):
            return latest
        conversation = Conversation(_uuid(self.rng), user.user_id, at)
        self._latest_conversation[user.user_id] = conversation
        self.conversations.append(conversation)
        return conversation

    def _question(self, sql_model: str) -> tuple[str, str | None]:
        if self.rng.random() < 0.55:
            question: Question = self._bird[self._pick(self._bird_cumulative)]
            family = "gpt-4" if _family(sql_model) == "large" else "gpt-3.5"
            if self.rng.random() < 0.3:
                family = "gpt-4" if family == "gpt-3.5" else "gpt-3.5"
            return question.text, question.sql_by_model_family[family]
        question = self._spider[self._pick(self._spider_cumulative)]
        return question.text, question.sql_by_model_family["any"]

    def _cached_tokens(self, input_tokens: int) -> int:
        """Prompt caching serves whole 128-token chunks of prompts of 1,024 tokens or more;
        the share that repeats follows Mooncake's measured prefix reuse."""
        if input_tokens < 1024:
            return 0
        share = self.rng.choice(self.data.prefix_reuse_fractions)
        return int(input_tokens * share) // 128 * 128

    def _call_ms(self, model: str, input_tokens: int, output_tokens: int) -> tuple[int, int]:
        """(total, time to first token) of one model call, with a heavy tail."""
        family = _family(model)
        first_token = CALL_BASE_MS[family] + input_tokens / 1000 * PREFILL_MS_PER_1K_INPUT[family]
        tail = self.rng.lognormvariate(0.0, 0.35)
        if self.rng.random() < 0.02:
            tail *= self.rng.uniform(2.0, 6.0)
        first_token *= tail
        total = first_token + output_tokens * TIME_PER_OUTPUT_TOKEN_MS[family] * tail
        return round(total), round(first_token)

    def _record(self, at: datetime) -> TelemetryRecord:
        """One request: a planned follow-up (a re-ask after a failure or an empty result, or
        a suggested follow-up taken) when one is due, else a new question."""
        follow_up = self._due_follow_up(at)
        record = self._draw_record(at, follow_up)
        if follow_up is not None and not record.is_off_topic:
            record.user_question = follow_up.question
        self._plan_follow_up(record)
        return record

    def _due_follow_up(self, at: datetime) -> FollowUp | None:
        """The earliest planned follow-up due by `at`; those left waiting for more than
        FOLLOW_UP_GIVE_UP (no arrival took them) are dropped: the user went away."""
        while self._follow_ups and self._follow_ups[0].due_at < at - FOLLOW_UP_GIVE_UP:
            heapq.heappop(self._follow_ups)
        if self._follow_ups and self._follow_ups[0].due_at <= at:
            return heapq.heappop(self._follow_ups)
        return None

    def _plan_follow_up(self, record: TelemetryRecord) -> None:
        """After a failure or an empty result the user often asks again within a minute or
        two (same question, sometimes lowercased); after a good answer they sometimes take a
        suggested follow-up, typed as offered or with their own case and spacing."""
        rng = self.quality_rng
        failed = record.error_type is not None
        empty = record.generated_sql is not None and not failed and record.result_row_count == 0
        if record.conversation_id is None:
            return
        if failed or empty:
            if rng.random() >= REASK_SHARE:
                return
            delay_s = rng.lognormvariate(math.log(REASK_MEDIAN_S), 0.8)
            question = record.user_question
            if rng.random() < 0.3:
                question = question.lower()
        elif record.follow_up_suggestions and rng.random() < SUGGESTION_FOLLOW_SHARE:
            delay_s = rng.lognormvariate(math.log(FOLLOW_MEDIAN_S), 0.7)
            suggestion = rng.choice(record.follow_up_suggestions)
            question = rng.choice([suggestion, suggestion.lower(), f" {suggestion}  "])
        else:
            return
        self._follow_up_count += 1
        heapq.heappush(
            self._follow_ups,
            FollowUp(
                record.created_at + timedelta(seconds=delay_s),
                self._follow_up_count,
                record.user_id,
                record.conversation_id,
                question,
            ),
        )

    def _draw_record(self, at: datetime, follow_up: FollowUp | None) -> TelemetryRecord:
        rng = self.rng
        user = self.users[self._pick(self._user_cumulative)]
        user_id: uuid.UUID | str
        conversation_id: uuid.UUID | str
        if follow_up is None:
            conversation = self._conversation_for(user, at)
            user_id, conversation_id = user.user_id, conversation.conversation_id
        else:
            user_id, conversation_id = follow_up.user_id, follow_up.conversation_id
        sql_model = _weighted_choice(rng, SQL_MODELS)
        response_model = _weighted_choice(rng, RESPONSE_MODELS)
        record = TelemetryRecord(
            user_id=user_id,
            user_question="",
            conversation_id=conversation_id,
            response_id=f"resp_{rng.getrandbits(96):024x}",
            created_at=at,
            sql_model=sql_model,
        )
        sql_tokens = rng.choice(self.data.sql_step_tokens)
        record.sql_input_tokens = sql_tokens.input_tokens
        record.sql_output_tokens = sql_tokens.output_tokens
        record.sql_cached_tokens = self._cached_tokens(sql_tokens.input_tokens)
        record.nl_to_sql_duration_ms, _ = self._call_ms(
            sql_model, sql_tokens.input_tokens, sql_tokens.output_tokens
        )

        if rng.random() < self.settings.off_topic_rate:
            record.user_question = rng.choice(self.data.off_topic)
            record.is_off_topic = True
            self._respond(record, response_model, "I can only answer questions about your data.")
            return record

        record.user_question, record.generated_sql = self._question(sql_model)
        if rng.random() < self.settings.error_rate:
            self._fail(record, response_model)
            return record
        record.sql_execution_duration_ms = self._sql_execution_ms()
        record.result_row_count = self._result_rows()
        self._respond(record, response_model, "Here is what the data shows.")
        return record

    def _sql_execution_ms(self) -> int:
        """Lognormal around 45 ms with a Pareto tail of slow queries (capped by the timeout)."""
        value = self.rng.lognormvariate(math.log(45), 0.9)
        if self.rng.random() < 0.03:
            value *= self.rng.paretovariate(1.5) * 10
        return min(round(value), STATEMENT_TIMEOUT_MS)

    def _result_rows(self) -> int:
        if self.rng.random() < 0.12:
            return 0
        return max(1, round(self.rng.lognormvariate(math.log(8), 1.6)))

    def _billed_model(self, model: str, day: date) -> str:
        """The response model, moved to a newer one for a share of calls after its release."""
        point = self.billing_rng.random()
        for newer, released, share in NEWER_RESPONSE_MODELS:
            if point < share and day >= released:
                return newer
            point -= share
        return model

    def _reported_tier(self, model: str, day: date) -> str | None:
        """The service tier the response reports: mostly none, a few flex and priority."""
        tiers = [tier for tier, _ in REPORTED_TIERS]
        weights = [weight for _, weight in REPORTED_TIERS]
        tier = self.billing_rng.choices(tiers, weights=weights, k=1)[0]
        if tier in ("flex", "priority") and day < TIER_PRICES_FROM:
            return None
        if tier == "flex" and not model.startswith(FLEX_MODEL_PREFIXES):
            return "default"  # flex is not offered for this model: served at the default tier
        return tier

    def _long_context_call(self, model: str) -> tuple[int, int] | None:
        """(input, cached) tokens of a long conversation, now and then, on the models that
        bill long context; None for an ordinary call."""
        if model not in LONG_CONTEXT_MODELS or self.billing_rng.random() >= LONG_CONTEXT_SHARE:
            return None
        input_tokens = self.billing_rng.randint(LONG_CONTEXT_THRESHOLD_TOKENS + 1, 600_000)
        share = self.billing_rng.choice(self.data.prefix_reuse_fractions)
        return input_tokens, int(input_tokens * share) // 128 * 128

    def _cache_write_tokens(self, model: str, input_tokens: int, cached_tokens: int) -> int:
        """From gpt-5.6 on, part of the uncached prompt is written to the cache (128-token
        chunks of prompts of 1,024 tokens or more), to be read by the next turn."""
        if not model.startswith(CACHE_WRITE_MODEL_PREFIX) or input_tokens < 1024:
            return 0
        uncached = input_tokens - cached_tokens
        return int(uncached * self.billing_rng.uniform(0.3, 0.9)) // 128 * 128

    def _respond(self, record: TelemetryRecord, model: str, answer: str) -> None:
        tokens = self.rng.choice(self.data.response_step_tokens)
        day = record.created_at.astimezone(timezone.utc).date()
        model = self._billed_model(model, day)
        input_tokens, cached_tokens = tokens.input_tokens, self._cached_tokens(tokens.input_tokens)
        long_call = self._long_context_call(model)
        if long_call is not None:
            input_tokens, cached_tokens = long_call
        record.response_model = model
        record.response_service_tier = self._reported_tier(model, day)
        record.response_input_tokens = input_tokens
        record.response_output_tokens = tokens.output_tokens
        record.response_cached_tokens = cached_tokens
        record.response_cache_write_tokens = self._cache_write_tokens(
            model, input_tokens, record.response_cached_tokens
        )
        total, first_token = self._call_ms(model, input_tokens, tokens.output_tokens)
        record.response_generation_duration_ms = total
        before_response = (record.nl_to_sql_duration_ms or 0) + (
            record.sql_execution_duration_ms or 0
        )
        record.ttfb_ms = before_response + first_token + round(self.rng.uniform(5, 40))
        record.ai_response = answer
        record.follow_up_suggestions = [
            "Show this by month",
            "Which items changed most?",
            "Export the rows",
        ][: self.rng.randint(0, 3)]

    def _fail(self, record: TelemetryRecord, response_model: str) -> None:
        kinds = [kind for kind, *_ in ERROR_KINDS]
        weights = [share for _, _, share, _ in ERROR_KINDS]
        index = kinds.index(self.rng.choices(kinds, weights=weights, k=1)[0])
        error_type, failed_step, _, messages = ERROR_KINDS[index]
        record.error_type = error_type
        record.failed_step = failed_step
        record.error_message = self.rng.choice(messages)
        if error_type == "sql_generation":
            record.generated_sql = None
            if "timed out" in record.error_message:
                record.nl_to_sql_duration_ms = 30_000
                record.sql_output_tokens = None
                record.sql_input_tokens = None
                record.sql_cached_tokens = None
        elif error_type == "sql_execution":
            if "timeout" in record.error_message:
                record.sql_execution_duration_ms = STATEMENT_TIMEOUT_MS
            else:
                record.sql_execution_duration_ms = round(self.rng.lognormvariate(math.log(15), 0.7))
        elif error_type == "response_generation":
            record.sql_execution_duration_ms = self._sql_execution_ms()
            record.result_row_count = self._result_rows()
            record.response_model = response_model
            record.response_generation_duration_ms = round(self.rng.uniform(300, 5000))
        elif error_type == "unexpected":
            record.failed_step = self.rng.choice([None, "looking_up", "response"])

    # ------------------------------------------------------------ the whole window

    def days(self) -> list[date]:
        end = self.settings.end_date
        return [end - timedelta(days=offset) for offset in range(self.settings.days - 1, -1, -1)]

    def iter_days(self) -> Iterator[tuple[date, list[Conversation], list[TelemetryRecord]]]:
        """Day by day: the conversations first seen that day and the day's records, so that a
        loader can create the conversations before the telemetry that refers to them."""
        for day in self.days():
            known = len(self.conversations)
            records = [self._record(at) for at in self._arrivals(day)]
            yield day, self.conversations[known:], records

    def iter_records(self) -> Iterator[TelemetryRecord]:
        for _, _, records in self.iter_days():
            yield from records

    def generate(self) -> Workload:
        records = list(self.iter_records())
        return Workload(users=self.users, conversations=self.conversations, records=records)
