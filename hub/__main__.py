"""``python -m hub`` is the ``station-hub`` command."""

from hub.cli import main

raise SystemExit(main())
