"""The `spark` target of profiles.yml and the local session (chat_telemetry/spark/session.py)
pin the same settings, so that a plain `dbt build --target spark` behaves as `make
spark-build` does. Pure Python: it runs in `make test`, without Java or PySpark."""

from __future__ import annotations

import yaml

from chat_telemetry.database import PROJECT_ROOT
from chat_telemetry.spark import session


def spark_profile_parameters() -> dict[str, str]:
    profiles = yaml.safe_load((PROJECT_ROOT / "profiles.yml").read_text(encoding="utf-8"))
    target = profiles["chat_telemetry"]["outputs"]["spark"]
    return {key: str(value) for key, value in target["server_side_parameters"].items()}


def test_the_spark_profile_pins_what_the_local_session_pins():
    pinned = {
        **session.NUMBER_SETTINGS,
        "spark.sql.codegen.cache.maxEntries": str(session.CODEGEN_CACHE_ENTRIES),
    }
    parameters = spark_profile_parameters()
    differing = {
        key: (value, parameters.get(key))
        for key, value in pinned.items()
        if parameters.get(key) != value
    }
    assert not differing, f"session value, profile value: {differing}"
