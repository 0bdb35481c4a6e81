"""settings.py is the one list of environment variables: the README prints it, and no module
reads the environment behind its back."""

from __future__ import annotations

import re

from chat_telemetry import settings
from chat_telemetry.database import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "chat_telemetry"
# Where dbt reads variables: what a newcomer sets must be in the list too.
DBT_FILES = [PROJECT_ROOT / "dbt_project.yml", PROJECT_ROOT / "profiles.yml"]
DBT_FOLDERS = [PROJECT_ROOT / "models", PROJECT_ROOT / "macros"]


def test_the_readme_lists_exactly_the_declared_variables():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- settings:begin -->\n(.*?)\n<!-- settings:end -->", readme, re.S)
    assert block, "README.md has no <!-- settings:begin/end --> block"
    assert block.group(1) == settings.markdown_table(), (
        "README's variable list is stale: paste `python -m chat_telemetry.settings` into it"
    )


def test_every_variable_named_in_code_or_dbt_is_declared():
    declared = {setting.name for setting in settings.VARIABLES}
    sources = [*PACKAGE.rglob("*.py"), *DBT_FILES]
    sources += [path for folder in DBT_FOLDERS for path in folder.rglob("*") if path.is_file()]
    named = {
        name
        for path in sources
        for name in re.findall(r"\bCHAT_TELEMETRY_[A-Z_]+\b", path.read_text(encoding="utf-8"))
    }
    assert named, "the search found no variable at all"
    assert named <= declared, f"not in chat_telemetry/settings.py: {sorted(named - declared)}"


def test_dbt_defaults_are_the_declared_ones():
    """`env_var('CHAT_TELEMETRY_X', 'default')` in dbt's files agrees with settings. An empty
    default on either side means "decided where it is used" (the BI role in
    macros/package/grants.sql, the Spark home relative to the checkout in spark/session.py)."""
    by_name = {setting.name: setting for setting in settings.VARIABLES}
    for path in DBT_FILES:
        text = path.read_text(encoding="utf-8")
        for name, default in re.findall(r"env_var\('(CHAT_TELEMETRY_\w+)', '([^']*)'\)", text):
            if default and by_name[name].default:
                assert by_name[name].default == default, (path.name, name)


def test_only_settings_reads_the_environment():
    readers = re.compile(r"os\.environ\.get\(|os\.getenv\(|os\.environ\[[^\]]+\](?!\s*=[^=])")
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "settings.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if readers.search(line)
    ]
    assert offenders == [], "read the environment through chat_telemetry.settings"


def test_lookback_days_is_dbt_projects_default():
    text = (PROJECT_ROOT / "dbt_project.yml").read_text(encoding="utf-8")
    declared = re.search(r"chat_telemetry__lookback_days:\s*(\d+)", text)
    assert declared and settings.lookback_days() == int(declared.group(1))
