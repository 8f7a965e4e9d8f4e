"""A dependency that fails under the command line (the Chroma server, a read-only or full disk) is one
line naming what failed and what to do, with the exit code of its type (5: unavailable), a traceback
only with --debug, and nothing stored is lost."""

from __future__ import annotations

import csv
import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chromadb.api.client import SharedSystemClient
from chromadb.api.models.Collection import Collection
from chromadb.errors import InternalError
from click.testing import CliRunner

from assistant import errors
from assistant.cli.main import cli
from tests.conftest import HashEmbedding
from tests.helpers import free_port


@pytest.fixture
def env(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`cli_env` with the hashing embedding in place of MiniLM: these tests are about failures."""
    monkeypatch.setattr("assistant.shop.embedding_function", lambda *args, **kwargs: HashEmbedding())
    return cli_env


def closed_url(monkeypatch: pytest.MonkeyPatch) -> str:
    """A Chroma server URL on a loopback port nothing listens on."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("SHOPASSIST_STORE__URL", url)
    return url


def one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


def store_counts() -> dict[str, int]:
    """What the store holds now, opened afresh (as a new process would) with this run's settings."""
    from assistant.config import load_settings
    from assistant.shop import Shop

    SharedSystemClient.clear_system_cache()
    return dict(Shop(load_settings()).index.counts())


def product_title(product_id: str) -> str:
    from assistant.config import load_settings
    from assistant.shop import Shop

    product = Shop(load_settings()).index.products.get(product_id)
    assert product is not None
    return product.title


@pytest.mark.parametrize(
    "args",
    [["chat", "boots"], ["ingest"], ["api", "--no-ui", "--port", "0"], ["ui", "--port", "0"]],
    ids=["chat", "ingest", "api", "ui"],
)
def test_a_chroma_server_down_at_start_is_one_line_and_exit_5(env, monkeypatch, args):
    url = closed_url(monkeypatch)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 5, result.output
    line = one_line(result.output)
    assert f"the Chroma server at {url} is not answering" in line and "set store.url" in line


def test_the_installed_command_prints_no_traceback_unless_debug(env, monkeypatch):
    url = closed_url(monkeypatch)
    script = Path(sys.executable).with_name("shopassist")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "assistant.cli.main"]
    plain = subprocess.run([*cmd, "chat", "boots"], capture_output=True, text=True, timeout=120)
    assert plain.returncode == 5 and plain.stdout == ""
    assert url in one_line(plain.stderr) and "Traceback" not in plain.stderr
    debug = subprocess.run([*cmd, "--debug", "chat", "boots"], capture_output=True, text=True, timeout=120)
    assert debug.returncode == 5 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == one_line(plain.stderr)


def test_debug_comes_from_the_environment_too(env, monkeypatch):
    closed_url(monkeypatch)
    monkeypatch.setenv("SHOPASSIST_DEBUG", "1")
    result = CliRunner().invoke(cli, ["chat", "boots"])
    assert result.exit_code == 5 and "Traceback (most recent call last)" in result.output


def permissions_enforced(folder: Path) -> bool:
    """Whether this process is refused a write to a read-only file (root, or CAP_DAC_OVERRIDE, is not)."""
    probe = folder / "probe"
    probe.write_text("")
    probe.chmod(0o444)
    try:
        with probe.open("a"):
            return False
    except PermissionError:
        return True
    finally:
        probe.chmod(0o644)
        probe.unlink()


def set_writable(root: Path, writable: bool) -> None:
    for folder, _, files in os.walk(root):
        for path in [Path(folder), *(Path(folder) / f for f in files)]:
            mode = path.stat().st_mode
            path.chmod(mode | 0o200 if writable else mode & ~0o222)


def check_read_only_home(env: Path, run: Any) -> None:
    """`run(args) -> (exit code, output)` against a read-only home: one line, exit 5, store kept."""
    assert CliRunner().invoke(cli, ["ingest"]).exit_code == 0
    before = store_counts()
    home = env / "home"
    set_writable(home, False)
    try:
        for args in (["ingest"], ["chat", "boots"]):
            # as a new process would: Chroma writes while it opens a store, so reads fail too
            SharedSystemClient.clear_system_cache()
            code, output = run(args)
            assert code == 5, output
            line = one_line(output)
            assert f"cannot write {home}" in line and f"make SHOPASSIST_HOME ({home}) writable" in line
    finally:
        set_writable(home, True)
    assert store_counts() == before


def test_a_read_only_home_is_one_line_and_keeps_the_store(env):
    if not permissions_enforced(env):
        pytest.skip("file permissions are not enforced for this user (root): the setpriv test covers it")

    def run(args: list[str]) -> tuple[int, str]:
        result = CliRunner().invoke(cli, args)
        return result.exit_code, result.output

    check_read_only_home(env, run)


def test_a_read_only_home_for_root_without_its_override(env):
    """Root ignores file modes (CAP_DAC_OVERRIDE); the command runs with that capability dropped
    (util-linux `setpriv`), so CI, which runs as root, sees the read-only home too."""
    import shutil

    if permissions_enforced(env):
        pytest.skip("permissions are enforced for this user: the test above covers it")
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and util-linux setpriv to drop CAP_DAC_OVERRIDE")
    script = Path(sys.executable).with_name("shopassist")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "assistant.cli.main"]
    drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]

    def run(args: list[str]) -> tuple[int, str]:
        done = subprocess.run([*drop, *cmd, *args], capture_output=True, text=True, timeout=300)
        return done.returncode, done.stderr + done.stdout

    check_read_only_home(env, run)


def failing_upsert(monkeypatch: pytest.MonkeyPatch, fault: BaseException) -> None:
    """Chroma's upsert fails from its second call on: one batch of an ingest is written, then the disk is full."""
    real = Collection.upsert
    calls = []

    def upsert(self: Collection, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:
            raise fault
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "upsert", upsert)


def renamed_catalogue(folder: Path) -> Path:
    """The demo catalogue with every title changed: an ingest that updates every product."""
    demo = Path(errors.__file__).parent / "demo_shop" / "products.csv"
    with demo.open(newline="") as f:
        rows = list(csv.DictReader(f))
    path = folder / "renamed.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "title": row["title"] + " v2"} for row in rows)
    return path


@pytest.mark.parametrize("fault", ["oserror", "chroma"])
def test_a_full_disk_during_ingest_is_one_line_and_loses_nothing(env, fault):
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest"]).exit_code == 0
    before, title = store_counts(), product_title("HP-1002")
    renamed = renamed_catalogue(env)
    with pytest.MonkeyPatch.context() as disk_full:
        if fault == "oserror":  # a write the store makes itself (an index file, a journal)
            failing_upsert(disk_full, OSError(errno.ENOSPC, "No space left on device", str(env / "home")))
        else:  # the embedded store says only "database or disk is full": its folder's free space decides
            disk_full.setattr(errors, "LOW_SPACE_BYTES", 2**62)
            failing_upsert(disk_full, InternalError("error returned from database: (code: 13) disk is full"))
        result = runner.invoke(cli, ["ingest", str(renamed)])
    assert result.exit_code == 5, result.output
    line = one_line(result.output)
    assert f"no space left to write {env / 'home'}" in line and "free space on /" in line
    assert store_counts() == before and product_title("HP-1002") == title
    again = runner.invoke(cli, ["ingest", str(renamed)])
    assert again.exit_code == 0, again.output  # with room again, the interrupted ingest completes
    assert store_counts() == before and product_title("HP-1002") == title + " v2"
