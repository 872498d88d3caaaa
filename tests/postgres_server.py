"""A throwaway PostgreSQL server on a free loopback port, for tests that need the real thing.

Uses Debian's `postgresql` package (the test command installs it when missing). initdb and
postgres refuse to run as root, so as root the cluster is created and run as `postgres`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.debian_packages import apt_install


def postgres_bin() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not versions:
        apt_install("postgresql")
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed and could not be installed (apt-get install postgresql)")
    return Path(versions[-1]).parent


@dataclass
class PostgresServer:
    port: int
    data_dir: Path
    bin_dir: Path
    as_user: list[str]
    user: str = "hub"
    password: str = "hub-test-password"
    database: str = "dagster"

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres() -> PostgresServer:
    bin_dir = postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    data = root / "data"
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
        root.chmod(0o700)
    server = PostgresServer(port=free_port(), data_dir=data, bin_dir=bin_dir, as_user=as_user)
    password_file = root / "pw"
    password_file.write_text(server.password)
    if as_user:
        shutil.chown(password_file, "postgres")
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", server.user, "-A", "scram-sha-256",
                    f"--pwfile={password_file}", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
                    "-o", f"-h 127.0.0.1 -p {server.port} -k {root} -c fsync=off", "start"],
                   check=True, capture_output=True)
    env = {**os.environ, "PGPASSWORD": server.password}
    deadline = time.monotonic() + 30
    while True:
        created = subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(server.port),
                                  "-U", server.user, server.database], env=env, capture_output=True, text=True)
        if created.returncode == 0:
            return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"PostgreSQL did not start: {created.stderr}")
        time.sleep(0.5)
