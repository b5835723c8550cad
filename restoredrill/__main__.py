import sys

if sys.argv[1:2] == ["wal-fetch"]:
    # PostgreSQL runs this once per WAL file: skip the CLI's start-up (typer, rich, every
    # command module) and go straight to the fetcher.
    from restoredrill.engines.postgres.wal_fetch import main as wal_fetch

    sys.exit(wal_fetch(sys.argv[2:]))

from restoredrill.cli.app import main

main()
