"""Run a command with a throwaway PostgreSQL server on loopback (for `make test`).

Sets DATABASE_URL_PG for the command. When the caller already set DATABASE_URL_PG, the command
runs against that server instead. The server is stopped and its directory removed afterwards,
even when the command fails. PostgreSQL refuses to run as root, so as root the cluster runs as
the `postgres` user in a directory that user owns. Installs Debian's postgresql when missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile


def _find_bin(name: str) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else shutil.which(name)


def _ensure_installed() -> None:
    if _find_bin("initdb") and _find_bin("pg_ctl"):
        return
    print("with_postgres: installing Debian's postgresql package", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: with_postgres.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if os.environ.get("DATABASE_URL_PG"):
        return subprocess.call(argv)
    _ensure_installed()
    initdb, pg_ctl = _find_bin("initdb"), _find_bin("pg_ctl")
    as_root = os.geteuid() == 0
    base = tempfile.mkdtemp(prefix="ambassador-pg-")
    data = os.path.join(base, "data")
    prefix: list[str] = []
    if as_root:
        os.chmod(base, 0o755)
        os.makedirs(data)
        shutil.chown(data, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    log = os.path.join(base, "server.log")
    if as_root:
        open(log, "w").close()
        shutil.chown(log, "postgres", "postgres")
    started = False
    try:
        subprocess.run([*prefix, initdb, "-D", data, "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*prefix, pg_ctl, "-D", data, "-l", log, "-w", "-o",
                        f"-h 127.0.0.1 -p {port} -k {data} -F -c max_connections=200",
                        "start"], stdout=subprocess.DEVNULL)
        started = True
        if subprocess.call([*prefix, pg_ctl, "-D", data, "status"],
                            stdout=subprocess.DEVNULL) != 0:
            print(open(log, encoding="utf-8", errors="replace").read(), file=sys.stderr)
            raise SystemExit("with_postgres: the PostgreSQL server did not start (log above)")
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
        print(f"with_postgres: throwaway server on 127.0.0.1:{port}", flush=True)
        return subprocess.call(argv, env={**os.environ, "DATABASE_URL_PG": url})
    finally:
        if started:
            subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
