from chat_telemetry.benchmark.run import main

raise SystemExit(main())
