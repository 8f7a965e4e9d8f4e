"""A throwaway PostgreSQL cluster for the store tests: initdb in a temporary folder, a server on a
free loopback port with its unix socket in that folder and trust authentication, stopped by PID.

PostgreSQL refuses to run as root, and the tests may run as root: then initdb and pg_ctl run as
the `postgres` user, in a folder it owns. One cluster per test process (`shared_cluster`), shared
by the session fixtures of every test folder that needs one; each test gets a database of its own
(`Cluster.new_database`), so tests never see each other's rows.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers import free_port

PG_BIN = Path(os.environ.get("SHOPASSIST_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def unavailable() -> str | None:
    """Why no cluster can be started here (the reason a test skips with), or None."""
    if not all((PG_BIN / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
        return f"PostgreSQL server binaries not found in {PG_BIN} (Debian: postgresql-15)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run the server as"
    return None


class Cluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="shopassist-pg-"))  # short: a socket path is <108 bytes
        self.port = free_port()
        self.pid: int | None = None
        self._names = itertools.count(1)
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]

    def _run(self, *cmd: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*self._as, *cmd], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode:
            log = self.dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {done.stderr[-2000:]}{tail}")

    def start(self) -> Cluster:
        data = self.dir / "data"
        self._run(
            str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--no-locale", "--no-sync",
        )  # fmt: skip
        # fsync off: the tests kill clients, never the server, and the cluster is thrown away.
        options = f"-h 127.0.0.1 -p {self.port} -k {self.dir} -F -c max_connections=300"
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "server.log"), "-w", "-t", "60",
            "-o", options, "start",
        )  # fmt: skip
        self.pid = int((data / "postmaster.pid").read_text().split()[0])
        return self

    def stop(self) -> None:
        """pg_ctl's immediate shutdown, then SIGKILL if the postmaster is still there; the folder goes."""
        if self.pid is not None:
            with contextlib.suppress(Exception):
                self._run(
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.dir / "data"),
                    "-m",
                    "immediate",
                    "-W",  # not waiting: the loop below waits, bounded, then kills
                    "stop",
                )
            deadline = time.monotonic() + 5
            while _alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(self.pid):
                os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


_cluster: Cluster | None = None


def shared_cluster() -> Cluster:
    """The one cluster of this test process, started on first use and stopped when it exits."""
    global _cluster
    if _cluster is None:
        cluster = Cluster()
        try:
            cluster.start()
        except BaseException:
            cluster.stop()
            raise
        atexit.register(cluster.stop)
        _cluster = cluster
    return _cluster
