"""`python -m bench NAME [--quick]`: run one benchmark (DESIGN §11).

Each benchmark is a module `bench/<name>.py` (dashes become underscores) with
`main(argv: list[str]) -> None`; its last printed line is `NAME: <ratio> <what the ratio is>`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main() -> None:
    names = sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules(bench.__path__)
                   if not m.name.startswith("_") and m.name != "common")
    if len(sys.argv) < 2 or sys.argv[1] in {"-h", "--help"}:
        print("usage: python -m bench NAME [--quick]\nbenchmarks: " + ", ".join(names))
        sys.exit(0 if len(sys.argv) >= 2 else 2)
    name = sys.argv[1]
    if name not in names:
        print(f"no benchmark called {name!r}; there are: {', '.join(names)}", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(f"bench.{name.replace('-', '_')}")
    module.main(sys.argv[2:])


if __name__ == "__main__":
    main()
