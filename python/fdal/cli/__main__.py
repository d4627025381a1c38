"""`python -m fdal.cli` is the `fdal` command."""
import sys

from . import main

sys.exit(main())
