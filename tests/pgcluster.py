"""A private PostgreSQL cluster for the test suite: initdb under a temp folder, loopback only, stopped after."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from core.web.serve import free_port


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: run the server as the package's 'postgres' user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class PgCluster:
    """Start with ``start()``, get URLs of fresh databases with ``new_database()``, ``stop()`` at the end."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _bin("initdb"), _bin("pg_ctl")
        self.dir: Path | None = None
        self.port = 0

    @property
    def available(self) -> bool:
        return bool(self.initdb and self.pg_ctl)

    def start(self) -> None:
        if not self.available:
            raise RuntimeError("PostgreSQL server binaries are missing: run `make test` (it installs postgresql)")
        self.dir = Path(tempfile.mkdtemp(prefix="twinboard-pg-"))
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        data = self.dir / "data"
        subprocess.run(_as_postgres([self.initdb, "-D", str(data), "-U", "twinboard", "--auth=trust",
                                     "-E", "UTF8", "--no-locale"]), check=True, capture_output=True)
        self.resume()

    def resume(self) -> None:
        """Start the server (again) on the same port and data folder."""
        assert self.dir is not None
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off")
        subprocess.run(_as_postgres([self.pg_ctl, "-D", str(self.dir / "data"), "-o", opts, "-l",
                                     str(self.dir / "log"), "-w", "start"]), check=True, capture_output=True)

    def pause(self) -> None:
        """Stop the server as a crash would (immediate), keeping its data for ``resume()``."""
        assert self.dir is not None
        subprocess.run(_as_postgres([self.pg_ctl, "-D", str(self.dir / "data"), "-m", "immediate", "stop"]),
                       check=True, capture_output=True)

    def new_database(self) -> str:
        """A fresh, empty database on the cluster; its SQLAlchemy URL."""
        import psycopg
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=twinboard dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://twinboard@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.dir is None:
            return
        subprocess.run(_as_postgres([self.pg_ctl, "-D", str(self.dir / "data"), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
