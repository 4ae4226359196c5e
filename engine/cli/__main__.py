"""`python -m engine.cli`: the same as the `attendance-policy` script."""

import sys

from engine.cli.main import main

sys.exit(main())
