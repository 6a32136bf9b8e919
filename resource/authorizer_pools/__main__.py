"""``python -m authorizer_pools``: the operator CLI (see ``cli.py``)."""

import sys

from .cli import main

sys.exit(main())
