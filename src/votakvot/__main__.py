"""`python -m votakvot`: the command line (see `votakvot --help`)."""

from votakvot._cli.main import main

raise SystemExit(main())
