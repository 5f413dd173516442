"""``python -m slicelens`` is the ``slicelens`` command."""

import sys

from slicelens.cli import main

if __name__ == "__main__":
    sys.exit(main())
