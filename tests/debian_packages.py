"""Installing the Debian packages some tests need (PostgreSQL, Chromium) when a machine lacks them.

CI starts from a fresh machine with the package registries reachable: the README's test
command must bring what the tests use, so the tests install it themselves, as root, with
apt-get, once per machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def apt_install(package: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(f"Debian package {package!r} is missing and cannot be installed here "
                           f"(needs root and apt-get): run `apt-get install {package}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=True, env=env)
