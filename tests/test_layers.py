"""The floors of the code hold: import-linter's contracts (pyproject.toml) pass on the tree, and
fail on a copy of it with one upward import planted, so the check can actually catch one."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("assistant", "retrieval", "finetune", "prompts")
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT.exists(), reason="import-linter is not installed (pip install -e '.[dev]')"
)


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy_tree(dest: Path) -> None:
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "*.csv", "*.json")
        )


def test_the_tree_keeps_its_floors():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "broken"),
    [
        # a foundation reaching up into a service
        (
            "assistant/generation/base.py",
            "import assistant.chat.service",
            "assistant.generation is not allowed to import assistant.chat",
        ),
        # one service importing a sibling service
        (
            "assistant/assist/policy.py",
            "import assistant.copystudio.protocol",
            "assistant.assist is not allowed to import assistant.copystudio",
        ),
        # the retrieval library importing the assistant
        ("retrieval/text.py", "import assistant.config", "retrieval is not allowed to import assistant"),
    ],
)
def test_a_planted_upward_import_fails_the_contract(tmp_path, module, planted, broken):
    _copy_tree(tmp_path)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{planted}  # planted by the test\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert broken in " ".join(result.stdout.split())
