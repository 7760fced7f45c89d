"""``python -m pipeline_guard``."""

import sys

from pipeline_guard.main import main

sys.exit(main())
