"""`python -m cdp`: the same command line as the `cdp` script.

The entry script is the one place where `cdp` reaches outward to `pipelines`
(which holds the CLI, since commands compose stages); the library itself never does.
"""

from __future__ import annotations

import sys

from pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main())
