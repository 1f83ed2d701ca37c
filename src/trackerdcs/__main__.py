from trackerdcs.cli import main

raise SystemExit(main())
