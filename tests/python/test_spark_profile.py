"""The `spark` target of profiles.yml and the local session (chat_telemetry/spark/session.py)
pin the same settings, so that a plain `dbt build --target spark` behaves as `make
spark-build` does. Pure Python: it runs in `make test`, without Java or PySpark."""

from __future__ import annotations

import yaml

from chat_telemetry.database import PROJECT_ROOT
from chat_telemetry.spark import session


def spark_profile_parameters() -> dict[str, str]:
    """The `spark` target's server_side_parameters, as the strings Spark receives."""
    profiles = yaml.safe_load((PROJECT_ROOT / "profiles.yml").read_text(encoding="utf-8"))
    target = profiles["chat_telemetry"]["outputs"]["spark"]
    return {key: str(value) for key, value in target["server_side_parameters"].items()}


def test_the_spark_profile_pins_the_settings_the_session_shares_with_it():
    parameters = spark_profile_parameters()
    differing = {
        key: (value, parameters.get(key))
        for key, value in session.PROFILE_SETTINGS.items()
        if parameters.get(key) != value
    }
    assert not differing, f"session value, profile value: {differing}"


def test_the_local_session_applies_every_setting_it_shares_with_the_profile(tmp_path, monkeypatch):
    """session_settings() itself, not a copy: a setting dropped from it fails here."""
    monkeypatch.setattr(session, "jdbc_jar", lambda: tmp_path / "postgresql.jar")
    applied = session.session_settings(tmp_path)
    assert session.PROFILE_SETTINGS, "nothing is shared"
    assert {key: applied.get(key) for key in session.PROFILE_SETTINGS} == session.PROFILE_SETTINGS
