"""Install the Debian packages the reports need when they are missing (for `make test` and
`make demo`): Pango for WeasyPrint's PDF, DejaVu fonts, and poppler-utils (pdftotext), which
the tests use to read reports back. Like scripts/with_postgres.py: apt-get update, then
install, only when something is missing."""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
import sys

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def missing() -> list[str]:
    wanted = []
    if not ctypes.util.find_library("pango-1.0"):
        wanted.append("libpango-1.0-0")
    if not ctypes.util.find_library("pangoft2-1.0"):
        wanted.append("libpangoft2-1.0-0")
    if not os.path.exists(FONT):
        wanted.append("fonts-dejavu-core")
    if not shutil.which("pdftotext"):
        wanted.append("poppler-utils")
    return wanted


def main() -> int:
    wanted = missing()
    if not wanted:
        return 0
    if not shutil.which("apt-get"):
        print("system_packages: install " + ", ".join(wanted) + " (no apt-get here)",
              file=sys.stderr)
        return 1
    print("system_packages: installing Debian's " + ", ".join(wanted), flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *wanted], check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
