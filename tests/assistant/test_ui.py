"""The README's run command brings the UI up, and a real browser gets product cards back.

Starts `shopassist ui` (what `make run` runs) as a process on a free port with the real models,
drives Debian's Chromium through Playwright, and saves a screenshot under the test's temp dir.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import free_port, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    from tests.conftest import shared_cache

    home = tmp_path_factory.mktemp("ui-home")
    port = free_port()
    script = Path(sys.executable).with_name("shopassist")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "assistant.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPASSIST_")}
    env.update(SHOPASSIST_HOME=str(home), SHOPASSIST_MODEL_CACHE=str(shared_cache()), PYTHONUNBUFFERED="1")
    url = f"http://127.0.0.1:{port}/"
    with running_server([*cmd, "ui", "--port", str(port)], url, home / "ui.log", env, timeout=240, cwd=home):
        yield url


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it as root)"
)
def test_browser_asks_a_product_question_and_sees_cards(ui_server, tmp_path):
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
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            # Offline CI: anything not served by our UI (web fonts, CDNs) is refused at once,
            # so a hanging DNS lookup cannot stall the page; readiness is the chat box itself.
            page.route(
                "**/*",
                lambda route: route.continue_() if route.request.url.startswith(ui_server) else route.abort(),
            )
            page.goto(ui_server, wait_until="domcontentloaded", timeout=120_000)
            page.wait_for_selector("#message textarea", timeout=120_000)
            box = page.locator("#message textarea")
            box.fill("waterproof boots under 100")
            box.press("Enter")
            page.wait_for_selector("#product-cards .card", timeout=120_000)
            page.wait_for_function(
                "document.querySelector('#chat').innerText.includes('[HP-')", timeout=120_000
            )
            titles = page.locator("#product-cards .card .title").all_inner_texts()
            ids = [
                page.locator("#product-cards .card").nth(i).get_attribute("data-product-id")
                for i in range(len(titles))
            ]
            page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
        finally:
            browser.close()
    assert titles and all("Boot" in t for t in titles)
    from assistant.shop import demo_shop_dir
    from retrieval.catalog import load_products

    catalogue = {p.id: p for p in load_products(demo_shop_dir() / "products.csv").items}
    assert all(i in catalogue and catalogue[i].price <= 100 for i in ids)
    assert (tmp_path / "chat.png").stat().st_size > 10_000
