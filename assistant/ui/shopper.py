"""The shopper app (Gradio): streaming chat, product cards, filters; nothing an operator uses.

It is a thin view over `Shop.chat` (the same service the CLI and API use): it turns UI controls
into a `ChatRequest` and stream events into chat text and cards. The signed-in customer comes only
from the shop backend's customer token (a demo picker exists for `make run` on loopback alone).
Shop content is data: card HTML is built with every value escaped, and reply text is escaped and
stripped of markdown links and images before the chat bubble renders it. Its labels are gettext
messages (prompts' catalogues), shown in the shop's first locale (`shop.locales`, else the demo's).

No `from __future__ import annotations` here: Gradio reads the `gr.Request` annotation at run time.
"""

import html
import re
import time
from collections.abc import Iterator
from typing import Any

import prompts
from assistant.chat.followup import ConversationState
from assistant.chat.protocol import ChatRequest, ProductCard
from assistant.errors import ShopassistError
from assistant.identity.principal import CustomerTokens, is_loopback
from assistant.shop import Shop, shop_locales
from retrieval.filters import Filters

# The API's default "no filter" value, accepted whatever language the app's dropdowns show.
ANY = "(any)"
TOKEN_COOKIE = "shopassist_customer"
_ADDRESS = re.compile(r"(?:https?://|www\.)[^\s)<>`]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.I)
_MD_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)]*)\)")

CSS = """
#product-cards .cards {display:grid; grid-template-columns:repeat(auto-fill,minmax(210px,1fr)); gap:10px;}
#product-cards .card {border:1px solid #d0d7de; border-radius:10px; padding:10px; background:#fff;}
#product-cards .card .title {font-weight:600; margin-bottom:4px;}
#product-cards .card .price {font-size:1.1em; color:#0b6e4f; font-weight:600;}
#product-cards .card .meta {font-size:0.85em; color:#555;}
#product-cards .card .pid {font-size:0.75em; color:#888; font-family:monospace;}
#product-cards .card .oos {color:#b42318; font-size:0.85em;}
"""


def render_cards(cards: list[ProductCard], locale: str | None = None) -> str:
    _ = prompts.translations(locale).gettext
    if not cards:
        empty = _("Products the assistant finds appear here.")
        return f"<div class='cards-empty'>{html.escape(empty)}</div>"
    out_of_stock = html.escape(_("out of stock"))
    items = []
    for c in cards:
        meta = " · ".join(html.escape(x) for x in (c.brand, c.category, c.color, c.size, c.material) if x)
        rating = f" · ★ {c.rating:g}" if c.rating is not None else ""
        stock = "" if c.in_stock else f"<div class='oos'>{out_of_stock}</div>"
        items.append(
            f"<div class='card' data-product-id='{html.escape(c.id)}'>"
            f"<div class='title'>{html.escape(c.title)}</div>"
            f"<div class='price'>{html.escape(c.price_text(locale))}</div>"
            f"<div class='meta'>{meta}{rating}</div>{stock}"
            f"<div class='pid'>{html.escape(c.id)}</div></div>"
        )
    return "<div class='cards'>" + "".join(items) + "</div>"


def safe_text(text: str, allowed_domains: tuple[str, ...] = ()) -> str:
    """Reply text for the chat bubble: shop content is data, so no HTML runs and no markdown link
    or image is made from it (the bubble renders markdown). Links stay visible as plain text, and an
    address outside the shop's own domains is set as inline code so the renderer cannot link it."""
    text = html.escape(text, quote=False)
    text = _MD_LINK.sub(lambda m: f"{m.group(2)} ({m.group(3)})", text)

    def inert(match: re.Match[str]) -> str:
        found = match.group(0)
        domain = found.split("@")[-1] if "@" in found and "://" not in found else found
        domain = re.sub(r"^[a-z]+://", "", domain.lower()).split("/")[0].removeprefix("www.")
        if any(domain == d or domain.endswith("." + d) for d in allowed_domains):
            return found
        return f"`{found.replace('`', '')}`"

    return _ADDRESS.sub(inert, text)


def customer_of(request: Any, tokens: CustomerTokens | None) -> str | None:
    """The signed-in customer from the shop backend's token (header X-Customer-Token or cookie
    `shopassist_customer`), never from a form field; None (a guest) when absent or invalid."""
    if request is None or tokens is None or not tokens.enabled:
        return None
    headers = getattr(request, "headers", {}) or {}
    cookies = getattr(request, "cookies", {}) or {}
    token = headers.get("x-customer-token") or cookies.get(TOKEN_COOKIE)
    if not token:
        return None
    try:
        return tokens.verify(str(token))
    except ShopassistError:
        return None


def build_shopper(shop: Shop, *, demo: bool = False) -> Any:
    """The shopper app: chat, filters and product cards; nothing an operator uses.

    `demo` (only `make run` on loopback with no API keys) adds a labelled customer picker so the
    order features can be tried; each turn still checks that the caller is on this machine."""
    import gradio as gr

    shop.index.products.warm_up()
    schema = shop.index.products.schema
    locale = prompts.catalogue_locale(shop_locales(shop.settings)[0])
    _ = prompts.translations(locale).gettext
    any_label, guest_label = _("(any)"), _("guest (not signed in)")
    tokens = CustomerTokens(shop.settings.api)
    domains = tuple(d.lower() for d in shop.settings.shop.allowed_domains)
    customers = {f"{c.name} ({c.id})": c.id for c in shop.orders.customers()} if demo else {}

    def take(message: str, outbox: list[str]) -> str:
        """Runs at once (no queue): the message joins this session's outbox and the box is free
        again, so anything typed while a turn is still streaming is kept and answered next."""
        if (message or "").strip():
            outbox.append(message)
        return ""

    def respond(
        outbox: list[str],
        transcript: list[dict[str, Any]],
        max_price: float | None,
        category: str,
        brand: str,
        in_stock: bool,
        state: dict[str, Any] | None,
        picked: str | None,
        request: gr.Request,
    ) -> Iterator[tuple[list[dict[str, Any]], str, dict[str, Any] | None]]:
        """Answers every message waiting in the outbox, in order. `transcript` is the session's
        server-side history (a State): a run that starts while another streams adds to the same
        list, so no turn overwrites another on screen."""
        filters = Filters(
            price_max=float(max_price) if max_price else None,
            categories=[] if category in (ANY, any_label, None, "") else [category],
            brands=[] if brand in (ANY, any_label, None, "") else [brand],
            in_stock=bool(in_stock),
        )
        customer: str | None
        if (
            demo
            and picked in customers
            and is_loopback(getattr(getattr(request, "client", None), "host", None))
        ):
            customer = customers[picked]
        else:
            customer = customer_of(request, tokens)
        cards_html = render_cards([], locale)
        while outbox:
            message = outbox.pop(0)
            transcript.append({"role": "user", "content": safe_text(message, domains)})
            reply = {"role": "assistant", "content": ""}
            transcript.append(reply)
            try:
                chat_request = ChatRequest(
                    message=message,
                    customer_id=customer,
                    filters=filters,
                    state=ConversationState.model_validate(state) if state else None,
                )
                raw = ""
                started, first_text = time.perf_counter(), None
                for event in shop.chat.stream(chat_request):
                    if event.type == "products":
                        cards_html = render_cards(event.products, locale)
                    elif event.type == "delta":
                        if event.delta and first_text is None:
                            first_text = time.perf_counter() - started
                        raw += event.delta
                        reply["content"] = safe_text(raw, domains)
                    elif event.type == "done" and event.response is not None:
                        resp = event.response
                        shop.turns.record(resp, message, "ui", time.perf_counter() - started, first_text)
                        reply["content"] = safe_text(resp.text, domains)
                        if resp.action == "handoff":
                            reply["content"] += "\n\n*" + _("(handed over to the shop team)") + "*"
                        state = resp.state.model_dump(mode="json")
                    yield list(transcript), cards_html, state
            except ShopassistError as exc:  # a bad message (or the model down): one clear line, no trace
                reply["content"] = f"⚠️ {safe_text(str(exc), domains)}"
                yield list(transcript), cards_html, state

    name = shop.settings.shop.name
    with gr.Blocks(title=_("%(shop)s assistant") % {"shop": name}) as app:
        heading = _("%(shop)s shopping assistant") % {"shop": html.escape(name)}
        about = _("Answers come from the shop's catalogue and policies, with their sources in brackets.")
        gr.Markdown(f"## {heading}\n{about}")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(elem_id="chat", height=460, label=_("Chat"), sanitize_html=True)
                with gr.Row():
                    box = gr.Textbox(
                        elem_id="message",
                        show_label=False,
                        scale=5,
                        placeholder=_("Ask about products, shipping, returns or your orders…"),
                    )
                    send = gr.Button(_("Send"), elem_id="send", variant="primary", scale=1)
            with gr.Column(scale=2):
                picker = gr.Dropdown(
                    [guest_label, *customers],
                    value=guest_label,
                    label=_("Demo mode: signed in as (this machine only; off when API keys are set)"),
                    elem_id="customer",
                    visible=demo,
                )
                with gr.Accordion(_("Filters"), open=False):
                    max_price = gr.Number(
                        label=_("Max price (%(currency)s)") % {"currency": schema.currency},
                        value=None,
                        minimum=0,
                        elem_id="max-price",
                    )
                    category = gr.Dropdown(
                        [any_label, *sorted(schema.categories.values())], value=any_label, label=_("Category")
                    )
                    brand = gr.Dropdown(
                        [any_label, *sorted(schema.brands.values())], value=any_label, label=_("Brand")
                    )
                    in_stock = gr.Checkbox(label=_("In stock only"), value=False)
                cards = gr.HTML(render_cards([], locale), elem_id="product-cards")
        conversation = gr.State(None)  # the last response's state: what "the second one" refers to
        outbox = gr.State([])  # messages sent and not yet answered (this session)
        transcript = gr.State([])  # the session's chat, kept on the server
        inputs = [outbox, transcript, max_price, category, brand, in_stock, conversation, picker]
        outputs = [chatbot, cards, conversation]
        for trigger, suffix in ((box.submit, "submit"), (send.click, "click")):
            trigger(
                take, [box, outbox], [box], queue=False, api_name=f"take_{suffix}", api_visibility="private"
            ).then(respond, inputs, outputs, api_name=f"turn_{suffix}", api_visibility="private")

        def respond_api(
            message: str,
            max_price: float | None = None,
            category: str = ANY,
            brand: str = ANY,
            in_stock: bool = False,
            picked: str | None = None,
            request: gr.Request = None,  # type: ignore[assignment]
        ) -> str:
            """One turn for programmatic clients (gradio_client): the reply text, as shown."""
            transcript: list[dict[str, Any]] = []
            for _ in respond(
                [message], transcript, max_price, category, brand, in_stock, None, picked, request
            ):
                pass
            return str(transcript[-1]["content"]) if transcript else ""

        gr.api(respond_api, api_name="respond")
    return app
