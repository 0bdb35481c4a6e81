"""`python -m chat_telemetry prices check`: the price seed against the pinned `genai-prices`.

The seed (`seeds/token_prices.csv`) is what the marts price with; `genai-prices` (PyPI, MIT,
pinned in requirements.txt) is a dated, reviewed source to check it against, not gospel: its
flex cached rates are rounded (0.13 for 0.125), and it models no tier history before its
verification day. So the check reports, it never edits the seed and never fails a build:

- seed rows whose prices differ from what the package gives for that model, tier and day;
- the package's OpenAI models (and tiers) that the seed has no row for;
- prices the package changed after the seed's newest row of a model and tier.

docs/operations.md ("Price changes") says how to bump the pin and carry a change into the seed.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from chat_telemetry.database import PROJECT_ROOT

SEED_PATH = PROJECT_ROOT / "seeds" / "token_prices.csv"
TIERS = ("default", "flex", "priority")
# The seed's price columns, with the package's name of each and whether it is long context.
PRICE_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("input_usd_per_1m", "input_mtok", False),
    ("cached_input_usd_per_1m", "cache_read_mtok", False),
    ("cache_write_input_usd_per_1m", "cache_write_mtok", False),
    ("output_usd_per_1m", "output_mtok", False),
    ("long_context_input_usd_per_1m", "input_mtok", True),
    ("long_context_cached_input_usd_per_1m", "cache_read_mtok", True),
    ("long_context_cache_write_input_usd_per_1m", "cache_write_mtok", True),
    ("long_context_output_usd_per_1m", "output_mtok", True),
)


@dataclass(frozen=True)
class Price:
    """One model's prices for one tier on one day, in USD per 1M tokens (None: not set)."""

    values: dict[str, Decimal | None]
    long_context_threshold_tokens: int | None

    def differences(self, other: Price) -> list[str]:
        found = []
        for name, *_ in PRICE_FIELDS:
            mine, theirs = self.values.get(name), other.values.get(name)
            if mine != theirs:
                found.append(f"{name} {_text(mine)} vs {_text(theirs)}")
        if self.long_context_threshold_tokens != other.long_context_threshold_tokens:
            found.append(
                "long_context_threshold_tokens "
                f"{self.long_context_threshold_tokens} vs {other.long_context_threshold_tokens}"
            )
        return found


def _text(value: Decimal | None) -> str:
    return "empty" if value is None else f"{value.normalize():f}"


def _decimal(text: str) -> Decimal | None:
    return Decimal(text) if text.strip() else None


@dataclass(frozen=True)
class SeedRow:
    model: str
    service_tier: str
    valid_from: dt.date
    valid_to: dt.date | None
    price: Price


def read_seed(path: Path = SEED_PATH) -> list[SeedRow]:
    """The seed's rows, with its documented defaults applied as the marts apply them: an
    empty cache-write price is the input price (at the same context length)."""
    rows = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            values = {name: _decimal(row[name]) for name, *_ in PRICE_FIELDS}
            if values["cache_write_input_usd_per_1m"] is None:
                values["cache_write_input_usd_per_1m"] = values["input_usd_per_1m"]
            if (
                values["long_context_cache_write_input_usd_per_1m"] is None
                and values["long_context_input_usd_per_1m"] is not None
            ):
                values["long_context_cache_write_input_usd_per_1m"] = values[
                    "long_context_input_usd_per_1m"
                ]
            threshold = row["long_context_threshold_tokens"].strip()
            rows.append(
                SeedRow(
                    model=row["model"],
                    service_tier=row["service_tier"],
                    valid_from=dt.date.fromisoformat(row["valid_from"]),
                    valid_to=dt.date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
                    price=Price(values, int(threshold) if threshold else None),
                )
            )
    return rows


class PackagePrices:
    """OpenAI's prices in the installed `genai-prices`, resolved per model, tier and day."""

    def __init__(self) -> None:
        from genai_prices import data

        self.version = _package_version()
        self.models = next(p for p in data.providers if p.id == "openai").models

    def model_for(self, name: str) -> Any | None:
        for model in self.models:
            if model.id == name:
                return model
        return next((model for model in self.models if model.is_match(name)), None)

    def price(self, name: str, tier: str, day: dt.date) -> Price | None:
        """What the package charges for `name` served by `tier` on `day` (None: no price,
        e.g. a tier it has no variant for, or before the day it verified that tier)."""
        model = self.model_for(name)
        if model is None:
            return None
        fields = dict(_base_prices(model, day).__dict__)
        if tier != "default":
            variants = [
                variant
                for variant in model.price_variants or []
                if variant.when.get("service_tier") in _tier_names(tier)
                and (variant.constraint is None or variant.constraint.start_date <= day)
            ]
            if not variants:
                return None
            fields.update({k: v for k, v in variants[-1].prices.__dict__.items() if v is not None})
        return _as_price(fields)

    def change_days(self, name: str, tier: str) -> list[dt.date]:
        """The days on which the package's price of `name` for `tier` starts or changes."""
        model = self.model_for(name)
        if model is None:
            return []
        days = {
            conditional.constraint.start_date
            for conditional in (model.prices if isinstance(model.prices, list) else [])
            if conditional.constraint is not None
        }
        if tier != "default":
            days |= {
                variant.constraint.start_date
                for variant in model.price_variants or []
                if variant.when.get("service_tier") in _tier_names(tier)
                and variant.constraint is not None
            }
        return sorted(days)

    def tiers_of(self, model: Any) -> list[str]:
        found = {"default"}
        for variant in model.price_variants or []:
            tier = variant.when.get("service_tier")
            if tier in ("flex", "priority"):
                found.add(tier)
            elif tier == "fast":
                found.add("priority")
        return sorted(found)


def _tier_names(tier: str) -> tuple[str, ...]:
    # gpt-6.1 calls priority "fast"; the package lists both, the seed has `priority`.
    return ("priority", "fast") if tier == "priority" else (tier,)


def _package_version() -> str:
    from importlib.metadata import version

    return version("genai-prices")


def _base_prices(model: Any, day: dt.date) -> Any:
    if not isinstance(model.prices, list):
        return model.prices
    active = [
        conditional
        for conditional in model.prices
        if conditional.constraint is None or conditional.constraint.start_date <= day
    ]
    return (active or model.prices)[-1].prices


def _as_price(fields: dict[str, Any]) -> Price:
    values: dict[str, Decimal | None] = {}
    threshold: int | None = None
    for name, package_name, is_long in PRICE_FIELDS:
        value = fields.get(package_name)
        if value is None:
            values[name] = None
        elif hasattr(value, "tiers"):
            if is_long:
                values[name] = value.tiers[0].price if value.tiers else None
                threshold = value.tiers[0].start if value.tiers else threshold
            else:
                values[name] = value.base
        else:
            values[name] = None if is_long else Decimal(value)
    # The seed's conventions: no cached rate means cached = input; no cache-write rate means
    # cache writes cost the input price.
    for cached, base in (
        ("cached_input_usd_per_1m", "input_usd_per_1m"),
        ("cache_write_input_usd_per_1m", "input_usd_per_1m"),
        ("long_context_cached_input_usd_per_1m", "long_context_input_usd_per_1m"),
        ("long_context_cache_write_input_usd_per_1m", "long_context_input_usd_per_1m"),
    ):
        if values[cached] is None:
            values[cached] = values[base]
    return Price(values, threshold)


def check(seed: Iterable[SeedRow], package: PackagePrices) -> Iterator[str]:
    """Report lines: differences, models and tiers missing from the seed, newer prices."""
    rows = list(seed)
    yield f"Seed {SEED_PATH.name} ({len(rows)} rows) against genai-prices {package.version}"
    differing = 0
    for row in rows:
        theirs = package.price(row.model, row.service_tier, row.valid_from)
        if theirs is None:
            if package.model_for(row.model) is None:
                yield f"  not in the package: {row.model}"
            else:
                yield (
                    f"  no {row.service_tier} price in the package on {row.valid_from}: {row.model}"
                )
            continue
        found = row.price.differences(theirs)
        if found:
            differing += 1
            yield (
                f"  differs: {row.model} {row.service_tier} from {row.valid_from}: "
                + "; ".join(found)
                + " (seed vs package)"
            )
    yield f"  {differing} of {len(rows)} rows differ"
    known = {(row.model, row.service_tier) for row in rows}
    known_models = {row.model for row in rows}
    missing_models = sorted(
        model.id
        for model in package.models
        if not any(model.is_match(name) for name in known_models)
    )
    yield f"Package models the seed lacks ({len(missing_models)}): {', '.join(missing_models)}"
    for name in sorted(known_models):
        model = package.model_for(name)
        if model is None:
            continue
        for tier in package.tiers_of(model):
            newest = max(
                (row.valid_from for row in rows if (row.model, row.service_tier) == (name, tier)),
                default=None,
            )
            if (name, tier) not in known:
                yield f"  tier the seed lacks: {name} {tier}"
                continue
            later = [day for day in package.change_days(name, tier) if newest and day > newest]
            for day in later:
                yield f"  changed in the package after the seed's rows: {name} {tier} on {day}"


def run_check(path: Path = SEED_PATH) -> int:
    """Print the report; 0 always (a report, not a gate: every difference needs review)."""
    for line in check(read_seed(path), PackagePrices()):
        print(line)
    return 0
