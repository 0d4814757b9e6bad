"""The stress run (benchmarks/stress.py) as a `make bench` figure source.

Defaults: 16 agent processes for 30 s; every violation count has budget 0.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import stress


def main(procs: int = stress.PROCS, duration: float = stress.DURATION,
         seed: int = stress.SEED) -> dict[str, Any]:
    return stress.main(procs, duration, seed)


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
