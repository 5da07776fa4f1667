"""`python -m notifier ...`: see notifier.entrypoints.cli."""

from notifier.entrypoints.cli import main

raise SystemExit(main())
