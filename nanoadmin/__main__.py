"""Entry point for ``python -m nanoadmin``."""

import sys

from nanoadmin.cli import main

sys.exit(main())
