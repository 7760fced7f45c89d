"""``python -m pipeline_guard``."""

import sys

from pipeline_guard.cli.main import main

sys.exit(main())
