"""``python -m lockgraph``: the same as the ``lockgraph`` command."""

import sys

from lockgraph.cli import main

sys.exit(main())
