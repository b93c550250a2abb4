"""``python -m geommm.cli``: the same as the ``geommm`` console script."""

import sys

from geommm.cli import main

sys.exit(main())
