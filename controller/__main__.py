"""`python -m controller` runs the offerctl CLI."""

import sys

from controller.cli import main

sys.exit(main())
