from runbook_tui.cli import main

raise SystemExit(main())
