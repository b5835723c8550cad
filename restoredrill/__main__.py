from restoredrill.cli.app import main

main()
