"""`python -m cnnprov_rdf.cli`: the same as the `cnnprov` command."""

import sys

from . import main

sys.exit(main())
