"""`python -m orch_core.demo` (`make demo`)."""

import sys

from orch_core.demo.story import main

sys.exit(main())
