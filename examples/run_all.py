"""Run every example in this folder (what `make demo` does until the order demo lands)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    for path in sorted(HERE.glob("*.py")):
        if path.name == "run_all.py" or path.name.startswith("_"):
            continue
        print(f"== {path.name}")
        runpy.run_path(str(path), run_name="__main__")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
