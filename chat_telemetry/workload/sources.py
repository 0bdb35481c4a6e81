"""The real public data the workload draws from (see data/real/NOTICE.md)."""

from __future__ import annotations

import csv
import itertools
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from chat_telemetry.database import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "data" / "real"


@dataclass(frozen=True)
class Question:
    text: str
    sql_by_model_family: dict[str, str]
    source: str


@dataclass(frozen=True)
class TokenPair:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class RealData:
    bird: tuple[Question, ...]
    spider: tuple[Question, ...]
    off_topic: tuple[str, ...]
    sql_step_tokens: tuple[TokenPair, ...]
    response_step_tokens: tuple[TokenPair, ...]
    inter_arrival_s: tuple[float, ...]
    prefix_reuse_fractions: tuple[float, ...]


def _read_jsonl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _azure_trace(path: Path) -> tuple[list[TokenPair], list[float]]:
    pairs: list[TokenPair] = []
    times: list[datetime] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            pairs.append(TokenPair(int(row["ContextTokens"]), int(row["GeneratedTokens"])))
            # Timestamps carry 7 fractional digits; datetime takes 6.
            times.append(datetime.fromisoformat(row["TIMESTAMP"][:26]))
    times.sort()
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    return pairs, [gap for gap in gaps if gap >= 0]


@lru_cache(maxsize=1)
def load(data_dir: Path = DATA_DIR) -> RealData:
    bird = tuple(
        Question(
            text=row["question"],
            sql_by_model_family={"gpt-4": row["sql_gpt_4"], "gpt-3.5": row["sql_gpt_35_turbo"]},
            source="bird",
        )
        for row in _read_jsonl(data_dir / "bird_mini_dev_questions.jsonl")
    )
    spider = tuple(
        Question(text=row["question"], sql_by_model_family={"any": row["query"]}, source="spider")
        for row in _read_jsonl(data_dir / "spider_dev_questions.jsonl")
    )
    with (data_dir / "sqleval_idk.csv").open(encoding="utf-8", newline="") as handle:
        off_topic = tuple(row["question"] for row in csv.DictReader(handle))
    sql_tokens, code_gaps = _azure_trace(data_dir / "azure_llm_inference_2023_code.csv")
    response_tokens, conversation_gaps = _azure_trace(
        data_dir / "azure_llm_inference_2023_conv.csv"
    )
    with (data_dir / "mooncake_prefix_reuse.csv").open(encoding="utf-8", newline="") as handle:
        reuse = tuple(
            int(row["reused_blocks"]) / int(row["blocks"])
            for row in csv.DictReader(handle)
            if int(row["blocks"]) > 0
        )
    return RealData(
        bird=bird,
        spider=spider,
        off_topic=off_topic,
        sql_step_tokens=tuple(sql_tokens),
        response_step_tokens=tuple(response_tokens),
        inter_arrival_s=tuple(conversation_gaps + code_gaps),
        prefix_reuse_fractions=reuse,
    )
