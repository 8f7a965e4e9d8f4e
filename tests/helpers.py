"""Process helpers for integration tests: a free loopback port and a server started, waited for
(bounded) and always stopped by PID."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(
    cmd: Sequence[str],
    health_url: str,
    log_path: Path,
    env: Mapping[str, str],
    timeout: float,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `cmd`, wait until `health_url` answers 200 (failing with the log's tail if it dies or
    times out), yield the process, and stop it by PID afterwards."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT, env=dict(env), cwd=cwd)
        try:
            deadline = time.time() + timeout
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"{cmd[0]} exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(health_url, timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if time.time() > deadline:
                    pytest.fail(f"{cmd[0]} not up after {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def until(check: Callable[[], bool], limit: float, what: str = "", interval: float = 0.05) -> float:
    """Seconds until `check()` holds, polling every `interval`; fails the test after `limit`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > limit:
            pytest.fail(f"{what + ': ' if what else ''}not within {limit:.1f} s")
        time.sleep(interval)
    return time.monotonic() - start
