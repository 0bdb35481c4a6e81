"""Every macro of the package is documented in macros/_macros.yml (dispatched implementations,
`<adapter>__<name>`, with the macro they implement)."""

from __future__ import annotations

import re

import yaml

from chat_telemetry import database

MACROS = database.PROJECT_ROOT / "macros"


def test_every_macro_is_documented() -> None:
    documented = {
        entry["name"] for entry in yaml.safe_load((MACROS / "_macros.yml").read_text())["macros"]
    }
    defined = {
        (path.name, name)
        for path in MACROS.glob("*.sql")
        for name in re.findall(r"{%-?\s*macro\s+([a-z_0-9]+)\(", path.read_text())
    }
    assert defined, "no macro found"
    missing = sorted(
        (file, name)
        for file, name in defined
        if name not in documented
        and re.sub(r"^(default|postgres|spark|databricks)__", "", name) not in documented
    )
    assert not missing, missing
