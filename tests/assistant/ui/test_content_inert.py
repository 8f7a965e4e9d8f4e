"""Shop content is data in the browser too (issue 13): a FAQ answer carrying a script, an event
handler and a markdown link, stored as is (policy 'keep', so the scanner does not hide it), is shown
as inert text in the shopper app: no script runs and no link or image is made from it.

Its own `shopassist ui` process (scripted generator: the model is not what is under test)."""

from __future__ import annotations

import csv

import pytest

from tests.assistant.conftest import _browser_page, started_ui

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLANTED = (
    "Use the reset link on the sign-in page. <script>window.__pwned = 1</script>"
    '<img src="x" onerror="window.__pwned = 2"> '
    "[Verify your account](https://evil.example/login) ![tracker](https://evil.example/p.gif)"
)


@pytest.fixture(scope="module")
def planted_ui(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("planted-ui")
    faq = home / "faq.csv"
    with faq.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "category", "question", "answer", "examples"])
        w.writerow(["faq-password", "account", "How do I reset my password?", PLANTED, "forgot my password"])
    settings = {
        "SHOPASSIST_SHOP__FAQ": str(faq),
        "SHOPASSIST_SHOP__CONTENT_POLICY": "keep",
        "SHOPASSIST_GENERATOR__ENGINE": "fake",
    }
    with started_ui(home, **settings) as url:
        yield url


def test_a_planted_script_in_a_faq_answer_stays_inert(planted_ui, tmp_path):
    for page in _browser_page(planted_ui, "", "#message textarea"):
        box = page.locator("#message textarea")
        box.fill("How do I reset my password?")
        box.press("Enter")
        page.wait_for_function(
            "document.querySelector('#chat').innerText.includes('reset link')", timeout=120_000
        )
        page.wait_for_timeout(1500)  # let any injected handler fire
        chat = page.locator("#chat")
        page.screenshot(path=str(tmp_path / "planted.png"), full_page=True)
        assert page.evaluate("window.__pwned") is None  # neither the script nor the onerror ran
        assert "<script>" in chat.inner_text()  # shown as text, not executed
        assert chat.locator("script").count() == 0 and chat.locator("img[src='x']").count() == 0
        assert chat.locator("a[href*='evil.example']").count() == 0  # no link made from shop data
        assert chat.locator("img[src*='evil.example']").count() == 0
