"""chat-telemetry's own tooling: the embedded database, bootstrap, demo workload and reports."""
