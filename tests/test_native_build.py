"""`make run`'s background native build of llama.cpp: it never delays the app and never builds twice.

The build itself takes minutes and a compiler, so it is measured by hand (docs/benchmarks.md); these
check the decisions taken before any compiling, in a throwaway venv and cache.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build-llamacpp-native.sh"


def _venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"  # this venv's, which has xllamacpp: the version is read from it
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return venv


def _run(venv: Path, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args, str(venv)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), **env},
    )


def test_native_0_skips_the_background_build(tmp_path):
    venv = _venv(tmp_path)
    done = _run(venv, tmp_path, "--background", NATIVE="0")
    assert done.returncode == 0 and done.stdout == "" and not (venv / "native-build.log").exists()


def test_an_installed_native_build_for_this_cpu_is_not_built_again(tmp_path):
    from importlib.metadata import version

    venv = _venv(tmp_path)
    key = _run(venv, tmp_path, "--key").stdout.strip()
    assert key.startswith(f"{version('xllamacpp')}-")  # version, machine, hash of the CPU's flags
    (venv / ".native-xllamacpp").write_text(key + "\n")
    background = _run(venv, tmp_path, "--background")
    assert background.returncode == 0 and background.stdout == ""
    assert not (venv / "native-build.log").exists()
    now = _run(venv, tmp_path)
    assert now.returncode == 0 and "already installed" in now.stdout
    assert not (tmp_path / "cache" / "shopassist" / "wheels").exists()  # nothing built or cached


def test_a_failed_background_build_is_not_started_again_at_every_run(tmp_path):
    cpuinfo = Path("/proc/cpuinfo")
    if not (cpuinfo.exists() and " avx512f" in cpuinfo.read_text()) or not shutil.which("cmake"):
        pytest.skip("the background build is only considered on a CPU with AVX-512 and with cmake")
    venv = _venv(tmp_path)
    key = _run(venv, tmp_path, "--key").stdout.strip()
    (venv / ".native-build-failed").write_text(key + "\n")
    done = _run(venv, tmp_path, "--background")
    assert done.returncode == 0 and "failed" in done.stdout and "make native" in done.stdout
    assert not (venv / ".native-build.sh").exists()  # nothing was started
