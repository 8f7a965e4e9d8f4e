"""Browser-test fixtures shared by every tab's test: one `shopassist ui` process per test run
(started as `make run` starts it, real models) and a Chromium page that cannot reach off-host."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port, running_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def started_ui(home: Path, timeout: int = 240, **settings: str) -> Iterator[str]:
    """`shopassist ui` as `make run` starts it, in its own home and the shared model cache, with
    SHOPASSIST_* overrides (e.g. SHOPASSIST_SHOP__DEMO="zh"); yields its URL once it answers."""
    from tests.conftest import shared_cache

    port = free_port()
    script = Path(sys.executable).with_name("shopassist")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "assistant.cli.main"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPASSIST_")}
    env.update(SHOPASSIST_HOME=str(home), SHOPASSIST_MODEL_CACHE=str(shared_cache()), PYTHONUNBUFFERED="1")
    env.update(settings)
    url = f"http://127.0.0.1:{port}/"
    with running_server(
        [*cmd, "ui", "--port", str(port)], url, home / "ui.log", env, timeout=timeout, cwd=home
    ):
        yield url


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with started_ui(tmp_path_factory.mktemp("ui-home")) as url:
        yield url


def _browser_page(base: str, path: str, ready: str, **options: Any) -> Iterator[Any]:
    """A loaded page in headless Chromium; skips (with the reason) where no browser is installed.
    `options` go to Playwright's `new_page` (e.g. `locale="zh-CN"`, the browser's language)."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make test installs it as root)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(**{"viewport": {"width": 1300, "height": 900}, **options})
            # Offline CI: anything not served by our UI (web fonts, CDNs) is refused at once, so a
            # hanging DNS lookup cannot stall the page; readiness is an element of the app itself.
            page.route(
                "**/*",
                lambda route: route.continue_() if route.request.url.startswith(base) else route.abort(),
            )
            page.goto(base + path, wait_until="domcontentloaded", timeout=120_000)
            page.wait_for_selector(ready, timeout=120_000)
            yield page
        finally:
            browser.close()


@pytest.fixture
def ui_page(ui_server: str) -> Iterator[Any]:
    """The shopper app (what `make run` shows at /)."""
    yield from _browser_page(ui_server, "", "#message textarea")


@pytest.fixture
def console_page(ui_server: str) -> Iterator[Any]:
    """The operator console at /console (no login: loopback with no API keys)."""
    yield from _browser_page(ui_server, "console/", "#tab-copy-button, [role=tab]")


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working directory and home for CLI tests: no inherited SHOPASSIST_* settings, the
    shared model cache, and the scripted engine (a test that wants another engine passes --engine)."""
    from tests.conftest import shared_cache

    for key in [k for k in os.environ if k.startswith("SHOPASSIST_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPASSIST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPASSIST_MODEL_CACHE", str(shared_cache()))
    monkeypatch.setenv("SHOPASSIST_GENERATOR__ENGINE", "fake")
    return tmp_path
