"""Every macro of the package is documented in macros/_macros.yml (dispatched implementations,
`<adapter>__<name>`, with the macro they implement), and each description ends with the file
the macro is defined in, wherever it sits under macros/."""

from __future__ import annotations

import re

import yaml

from chat_telemetry import database

MACROS = database.PROJECT_ROOT / "macros"


def defined_macros() -> dict[str, str]:
    """Every macro defined under macros/ (any folder), by name, with its file."""
    defined: dict[str, str] = {}
    for path in sorted(MACROS.rglob("*.sql")):
        relative = path.relative_to(database.PROJECT_ROOT).as_posix()
        for name in re.findall(r"{%-?\s*macro\s+([a-z_0-9]+)\(", path.read_text()):
            assert name not in defined, f"{name} defined in {defined[name]} and {relative}"
            defined[name] = relative
    return defined


def test_every_macro_is_documented() -> None:
    documented = {
        entry["name"] for entry in yaml.safe_load((MACROS / "_macros.yml").read_text())["macros"]
    }
    defined = defined_macros()
    assert defined, "no macro found"
    missing = sorted(
        (file, name)
        for name, file in defined.items()
        if name not in documented
        and re.sub(r"^(default|postgres|spark|databricks)__", "", name) not in documented
    )
    assert not missing, missing


def test_each_description_names_the_file_of_its_macro() -> None:
    defined = defined_macros()
    wrong = []
    for entry in yaml.safe_load((MACROS / "_macros.yml").read_text())["macros"]:
        name = entry["name"]
        file = defined.get(name) or defined.get(f"default__{name}")
        ending = re.search(r"\((macros/[a-z_0-9/]+\.sql)\)$", entry["description"].strip())
        if file is None or ending is None or ending.group(1) != file:
            wrong.append((name, file, ending and ending.group(1)))
    assert not wrong, wrong
