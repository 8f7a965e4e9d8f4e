"""The storefront widget in a real browser (issue 18): the sample storefront page, served from its own
origin like a shop's, loads `/widget.js` from the API with a publishable key (CORS over real sockets).

Headless Chromium (Debian's, through Playwright, as the other browser tests) on the demo shop: real
retrieval, the scripted generator. The demo catalogue's urls are paths (product pages on the shop's
site, images on the API), so the session's demo shop serves as is; only the page's script tag names
the API's address. Screenshots at 390 and 1280 px are saved under the test's tmp dir (paths printed)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.assistant.api.conftest import live_server
from tests.assistant.conftest import CHROMIUM
from tests.helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[3]
PAGE = "/examples/storefront.html"
DEMO_API = "http://127.0.0.1:8080"  # the API's address in examples/storefront.html
KEY = "pk_demo_storefront_0123456789"  # the key in examples/storefront.html
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


class Site:
    def __init__(self, api: str, shop: str, feedback: Any, products: list[Any]) -> None:
        self.api, self.shop, self.feedback, self.products = api, shop, feedback, products


def _storefront_server(port: int, api: str) -> http.server.ThreadingHTTPServer:
    """The sample page as a shop would serve it (its own origin), with the API's real address."""
    page = (REPO / PAGE.lstrip("/")).read_text().replace(DEMO_API, api).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            found = self.path.split("?")[0] == PAGE
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page if found else b"not found")

        def log_message(self, *args: Any) -> None:
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)


@pytest.fixture(scope="module")
def site(demo_shop_real: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from assistant.shop import demo_shop_dir
    from retrieval.catalog import load_products
    from tests.assistant.api.conftest import app_with

    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make test installs it as root)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    home = tmp_path_factory.mktemp("widget-home")
    shop_origin = f"http://127.0.0.1:{free_port()}"
    app, shop = app_with(
        demo_shop_real, home, keys=[{"key": KEY, "role": "storefront"}], widget_origins=[shop_origin]
    )
    with live_server(app) as api:
        storefront = _storefront_server(int(shop_origin.rsplit(":", 1)[1]), api)
        threading.Thread(target=storefront.serve_forever, daemon=True).start()
        try:
            products = load_products(demo_shop_dir() / "products.csv").items
            yield Site(api, shop_origin, app.state.api.feedback, products)
        finally:
            storefront.shutdown()


@pytest.fixture
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _open_page(browser: Any, site: Site, width: int, height: int) -> tuple[Any, list[str]]:
    """The storefront at one viewport, and the list of requests it makes to any other origin
    (recorded, not intercepted: the chat stream reaches the page as the network delivers it)."""
    page = browser.new_page(viewport={"width": width, "height": height}, locale="en-US")
    foreign: list[str] = []
    ours = (site.api + "/", site.shop + "/")
    page.on("request", lambda request: None if request.url.startswith(ours) else foreign.append(request.url))
    page.goto(site.shop + PAGE, wait_until="load")
    page.wait_for_selector("shop-assistant .launcher")
    return page, foreign


def _ask(page: Any, text: str, replies: int) -> None:
    """Send `text` and wait until the `replies`-th answer is complete (its thumbs are shown)."""
    page.locator("shop-assistant input").fill(text)
    page.locator("shop-assistant input").press("Enter")
    page.wait_for_function(
        f"document.querySelector('shop-assistant').shadowRoot.querySelectorAll('.thumbs').length >= {replies}",
        timeout=60_000,
    )


def _cards(page: Any, reply: int) -> list[dict[str, Any]]:
    return page.evaluate(
        """(n) => [...document.querySelector('shop-assistant').shadowRoot
              .querySelectorAll('.msg.bot')[n].querySelectorAll('.card')].map((c) => ({
            id: c.dataset.productId,
            image: c.querySelector('img') && c.querySelector('img').naturalWidth,
            price: c.querySelector('.price').textContent,
            stock: c.querySelector('.stock').textContent,
            href: c.querySelector('a.title') && c.querySelector('a.title').href,
            box: c.getBoundingClientRect().toJSON(),
        }))""",
        reply,
    )


def _price(card: dict[str, Any]) -> float:
    return float("".join(ch for ch in card["price"] if ch.isdigit() or ch == "."))


def _stored(page: Any) -> dict[str, Any]:
    return json.loads(page.evaluate("sessionStorage.getItem(Object.keys(sessionStorage)[0])"))


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)])
def test_a_shopper_chats_on_the_storefront(browser, site, tmp_path, width, height):
    page, foreign = _open_page(browser, site, width, height)
    page.locator("shop-assistant .launcher").click()
    assert page.locator("shop-assistant [role=dialog]").is_visible()
    _ask(page, "waterproof boots under 100", replies=1)
    first = _cards(page, 1)  # reply 0 is the welcome message
    assert first and all(c["image"] > 0 for c in first)  # the API served every image
    assert all(c["href"] == f"{site.shop}{PAGE}#{c['id']}" for c in first)
    prices = {c["id"]: _price(c) for c in first}
    assert all(p <= 100 for p in prices.values())
    catalogue = {p.id: p for p in site.products}
    assert all(c["stock"] == ("In stock" if catalogue[c["id"]].in_stock else "Out of stock") for c in first)
    log = page.locator("shop-assistant [role=log]")
    shown = log.inner_text()
    assert "[HP-" not in shown  # never raw ids
    # Each product once, on its card: the widget asks for `show: cards`, so no text line repeats it.
    assert all(shown.count(catalogue[c["id"]].title) == 1 for c in first), shown

    # Layout: nothing scrolls sideways, the panel is inside the viewport, the cards inside the panel.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    panel = page.locator("shop-assistant [role=dialog]").bounding_box()
    assert panel["x"] >= 0 and panel["y"] >= 0
    assert panel["x"] + panel["width"] <= width and panel["y"] + panel["height"] <= height
    assert all(
        panel["x"] <= c["box"]["x"] and c["box"]["right"] <= panel["x"] + panel["width"] for c in first
    )
    shot = tmp_path / f"widget-{width}.png"
    page.screenshot(path=str(shot))
    print(f"screenshot at {width}x{height}: {shot}")
    assert shot.stat().st_size > 10_000

    _ask(page, "cheaper ones?", replies=2)  # a follow-up: the state of the first reply went back
    second = _cards(page, 2)
    assert second and {c["id"] for c in second}.isdisjoint(prices)
    assert all(_price(c) < min(prices.values()) for c in second)

    page.locator("shop-assistant .msg.bot").last.locator("[data-verdict=up]").click()
    page.wait_for_function(
        "[...document.querySelector('shop-assistant').shadowRoot.querySelectorAll('.note')]"
        ".pop().textContent.startsWith('Thanks')"
    )
    reply_id = _stored(page)["messages"][-1]["id"]
    assert [(f.item_id, f.verdict, f.kind) for f in site.feedback.all() if f.item_id == reply_id] == [
        (reply_id, "up", "chat")
    ]

    page.locator("shop-assistant .msg.bot").last.locator(".cart").first.click()  # the page wires it
    assert page.locator("#cart-count").inner_text() == "1"
    assert page.locator("#cart-count").get_attribute("data-last") == second[0]["id"]

    page.reload(wait_until="load")
    page.wait_for_selector("shop-assistant .launcher")
    if not page.locator("shop-assistant [role=dialog]").is_visible():  # on a phone it stays closed
        page.locator("shop-assistant .launcher").click()
    assert page.locator("shop-assistant .msg.user").all_inner_texts() == [
        "waterproof boots under 100",
        "cheaper ones?",
    ]
    assert [c["id"] for c in _cards(page, 2)] == [c["id"] for c in second]
    assert page.locator("shop-assistant [data-verdict=up][aria-pressed=true]").count() == 1
    _ask(page, "is the second one in stock?", replies=3)  # the restored state still drives follow-ups
    assert [c["id"] for c in _cards(page, 3)] == [second[1]["id"]]
    assert foreign == []


def test_the_widget_works_from_the_keyboard(browser, site):
    page, foreign = _open_page(browser, site, 1280, 800)
    active = "document.querySelector('shop-assistant').shadowRoot.activeElement?.className || ''"
    page.locator("details").last.locator("summary").focus()  # the page's last control before the widget
    page.keyboard.press("Tab")
    assert page.evaluate(active) == "launcher"
    launcher = page.locator("shop-assistant .launcher")
    assert launcher.get_attribute("aria-expanded") == "false" and launcher.get_attribute("aria-label")
    page.keyboard.press("Enter")
    dialog = page.locator("shop-assistant [role=dialog]")
    assert dialog.is_visible() and launcher.get_attribute("aria-expanded") == "true"
    assert (
        dialog.get_attribute("aria-modal") == "false"
        and dialog.get_attribute("aria-labelledby") == "sa-title"
    )
    assert page.locator("shop-assistant [role=log]").get_attribute("aria-live") == "polite"
    assert (
        page.evaluate("document.querySelector('shop-assistant').shadowRoot.activeElement?.id") == "sa-input"
    )
    page.keyboard.press("Escape")
    assert not dialog.is_visible() and page.evaluate(active) == "launcher"

    page.keyboard.press("Enter")
    page.locator("shop-assistant .quick button", has_text="Return policy").click()  # a quick reply
    page.wait_for_selector("shop-assistant .thumbs")
    policy = page.locator("shop-assistant .msg.bot a.cite")
    assert policy.first.get_attribute("href").startswith(f"{site.shop}{PAGE}#faq-")
    assert "[faq-" not in page.locator("shop-assistant [role=log]").inner_text()
    assert not page.locator("shop-assistant .quick").is_visible()  # quick replies are for the start
    assert foreign == []


def test_a_refusal_offers_close_faq_questions_that_ask_themselves(browser, site):
    """No entry matches "is there a loyalty program" confidently; the refusal's offered questions
    (response.suggestions) are buttons, and one click asks it and gets that entry's cited answer."""
    page, foreign = _open_page(browser, site, 1280, 800)
    page.locator("shop-assistant .launcher").click()
    _ask(page, "is there a loyalty program", replies=1)
    refusal = page.locator("shop-assistant .msg.bot").last
    offered = refusal.locator("button.ask")
    questions = offered.all_inner_texts()
    assert questions and "connect you with a member of our team" in refusal.inner_text()
    assert refusal.locator("a.cite").count() == 0  # nothing asserted
    offered.first.click()
    page.wait_for_function(
        "document.querySelector('shop-assistant').shadowRoot.querySelectorAll('.thumbs').length >= 2",
        timeout=60_000,
    )
    assert page.locator("shop-assistant .msg.user").all_inner_texts()[-1] == questions[0]
    answer = page.locator("shop-assistant .msg.bot").last
    assert f"{site.shop}{PAGE}#faq-" in answer.locator("a.cite").first.get_attribute("href")
    assert answer.locator("button.ask").count() == 0
    assert foreign == []
