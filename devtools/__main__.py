"""`python -m devtools ...`: see devtools.cli."""

from devtools.cli import main

raise SystemExit(main())
