"""Command line: `python -m chat_telemetry <command>`; see `--help`."""

from chat_telemetry.cli import main

raise SystemExit(main())
