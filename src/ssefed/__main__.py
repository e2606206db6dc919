from ssefed.cli import main

raise SystemExit(main())
