/* shopassist storefront widget: the <shop-assistant> web component, dependency-free (README
 * "Storefront widget"). Added with one script tag; the API is where this file came from:
 *   <script src="https://API/widget.js" data-api-key="pk_..." data-customer-token="..."
 *           data-shop-name="..." defer></script>
 * Optional: data-policy-url (a link for policy citations, "{id}" replaced by the entry's id),
 * data-quick-replies ("a|b|c"), data-welcome. Reply and catalogue text is untrusted: every node is
 * built with textContent, and only http(s) links are made. */
(() => {
  "use strict";
  if (customElements.get("shop-assistant")) return;
  // The tag that loaded this file (currentScript is null when a tag manager runs it later).
  const script = document.currentScript || document.querySelector('script[src*="/widget.js"]');
  const cfg = (script && script.dataset) || {};
  const API = new URL(".", script ? script.src : location.href);
  const STORE = "shopassist:" + API.href;
  const KEEP = 40; // messages kept in sessionStorage
  const NAME = cfg.shopName || "our shop";
  // Catalogue paths ("/img/boot.jpg") are on the shop's site; data-image-base names another home.
  const IMAGES = cfg.imageBase ? new URL(cfg.imageBase, location.href).href : document.baseURI;
  const QUICK = (cfg.quickReplies || "Waterproof boots|Return policy|Where is my order?")
    .split("|").map((s) => s.trim()).filter(Boolean);
  const WELCOME = cfg.welcome ||
    `Hi! I'm the ${NAME} assistant. Ask me about products, your orders or our policies.`;
  // **bold** and [id] citation markers; everything else in a reply stays text.
  const INLINE = /\*\*([^*\n]+)\*\*|\[([A-Za-z0-9][\w.:-]{0,80})\]/g;
  const CHAT = "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2z";
  const THUMB = "M1 21h4V9H1v12zm22-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.5-1.1L14.2 1 7.6 7.6A2 2 0 0 0 7 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7c.1-.3.2-.5.2-.8v-2z";
  const CSS = `
:host{all:initial;--a:var(--shopassist-accent,#2f4a3a);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328}
*{box-sizing:border-box}button{font:inherit;cursor:pointer}
:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.launcher{position:fixed;right:16px;bottom:16px;z-index:2147483000;width:56px;height:56px;border:0;border-radius:50%;background:var(--a);color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.3);display:grid;place-items:center}
svg{width:24px;height:24px;fill:currentColor}
.panel{position:fixed;right:16px;bottom:84px;z-index:2147483001;width:min(400px,calc(100vw - 32px));height:min(640px,calc(100vh - 104px));display:flex;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden}
.panel[hidden],.quick[hidden]{display:none}
header{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:var(--a);color:#fff}
h2{font-size:16px;margin:0}
.close{background:none;border:0;color:#fff;font-size:24px;line-height:1;padding:2px 8px}
.log{flex:1;overflow-y:auto;overflow-x:hidden;padding:12px;display:flex;flex-direction:column;gap:10px;background:#f6f7f8}
.msg{max-width:94%;padding:8px 12px;border-radius:12px;overflow-wrap:anywhere}
.user{align-self:flex-end;background:var(--a);color:#fff}
.bot{align-self:flex-start;background:#fff;border:1px solid #e1e4e8}
.msg p{margin:0 0 6px}.msg p:last-child{margin:0}.msg ul{margin:4px 0;padding-left:18px}
.err{color:#b3261e}
.cite{font:inherit;font-size:12px;margin-left:4px;color:#0b57d0;background:none;border:0;padding:0;text-decoration:underline;font-style:normal}
.msg ul.cards{list-style:none;padding:0;margin:8px 0 0;display:flex;flex-direction:column;gap:8px}
.card{display:flex;gap:10px;padding:8px;border:1px solid #e1e4e8;border-radius:8px}
.card img,.noimg{width:64px;height:64px;flex:none;border-radius:6px;object-fit:cover;background:#eee}
.info{display:flex;flex-direction:column;gap:2px;min-width:0}
.title{font-weight:600}a.title{color:#0b57d0}.price{font-weight:600}
.stock{font-size:12px;color:#1e7e34}.out{color:#b3261e}
.cart{align-self:flex-start;margin-top:4px;padding:3px 10px;border:1px solid var(--a);border-radius:6px;background:#fff;color:var(--a)}
.cart:disabled{opacity:.5;cursor:default}
.thumbs{display:flex;gap:6px;margin-top:6px;align-items:center;font-size:12px;color:#555}
.thumbs button{border:1px solid #ccd;border-radius:6px;background:#fff;color:#555;padding:3px 6px;line-height:0}
.thumbs svg{width:16px;height:16px}.thumbs [data-verdict=down] svg{transform:rotate(180deg)}
.thumbs [aria-pressed=true]{background:var(--a);border-color:var(--a);color:#fff}
.quick{display:flex;flex-wrap:wrap;gap:6px;padding:8px 12px 0;background:#f6f7f8}
.quick button,.ask{border:1px solid var(--a);color:var(--a);background:#fff;border-radius:16px;padding:4px 12px;font-size:13px}
li .ask{margin:2px 0;text-align:left}
form{display:flex;gap:8px;padding:10px 12px;border-top:1px solid #e1e4e8;background:#fff}
input{flex:1;min-width:0;font:inherit;font-size:16px;padding:7px 10px;border:1px solid #bbb;border-radius:8px}
form button{border:0;border-radius:8px;background:var(--a);color:#fff;padding:8px 14px}
@media (max-width:480px){.panel{inset:0;width:auto;height:auto;border-radius:0}:host([open]) .launcher{display:none}}`;

  /** An element with attributes (on* = listeners, text = textContent) and children (strings become text nodes). */
  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    node.append(...kids);
    return node;
  }
  function icon(d) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
    return svg;
  }
  /** An absolute http(s) URL, or "" (no javascript: or data: links from catalogue text). */
  function safeUrl(value, base) {
    if (!value) return "";
    try {
      const url = new URL(value, base);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : "";
    } catch {
      return "";
    }
  }
  function money(price, currency) {
    if (price == null) return "Price not listed";
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(price);
    } catch {
      return `${price.toFixed(2)} ${currency}`;
    }
  }
  /** Server-sent events from a fetch() body (EventSource cannot POST): yields [event, data]. */
  async function* events(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          const i = line.indexOf(":");
          if (i === 0) continue; // a keep-alive comment
          const field = i < 0 ? line : line.slice(0, i);
          const text = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
          if (field === "event") event = text;
          else if (field === "data") data.push(text);
        }
        if (data.length) yield [event, JSON.parse(data.join("\n"))];
      }
    }
  }
  async function problem(response) {
    try {
      return (await response.json()).error.message;
    } catch {
      return `the assistant answered ${response.status}`;
    }
  }

  class ShopAssistant extends HTMLElement {
    constructor() {
      super();
      this.apiKey = cfg.apiKey || "";
      this.customerToken = cfg.customerToken || ""; // the shop may set a fresh one on the element
      this.data = this.load();
      this.busy = false;
      this.queue = [];
      const root = this.attachShadow({ mode: "open" });
      if (root.adoptedStyleSheets && window.CSSStyleSheet && "replaceSync" in CSSStyleSheet.prototype) {
        const sheet = new CSSStyleSheet(); // not inline style, so a strict style-src CSP allows it
        sheet.replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
      } else root.append(el("style", { text: CSS }));
      this.launcher = el("button", {
        class: "launcher", type: "button", "aria-label": `Chat with the ${NAME} assistant`,
        "aria-expanded": "false", "aria-controls": "sa-panel", onclick: () => this.toggle(),
      }, icon(CHAT));
      this.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" },
        el("div", { class: "msg bot" }, el("p", { text: WELCOME })));
      this.quick = el("div", { class: "quick", role: "group", "aria-label": "Suggested questions" },
        ...QUICK.map((q) => el("button", { type: "button", onclick: () => this.send(q) }, q)));
      this.input = el("input", { id: "sa-input", type: "text", autocomplete: "off", maxlength: "2000",
        placeholder: "Ask about products, orders, policies" });
      const form = el("form", { onsubmit: (e) => {
        e.preventDefault();
        const text = this.input.value.trim();
        this.input.value = "";
        if (text) this.send(text);
      } }, el("label", { for: "sa-input", class: "sr" }, "Message"), this.input,
      el("button", { type: "submit" }, "Send"));
      this.panel = el("section", {
        id: "sa-panel", class: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "sa-title", hidden: true,
        onkeydown: (e) => { if (e.key === "Escape") { e.stopPropagation(); this.close(); } },
      }, el("header", {}, el("h2", { id: "sa-title" }, `${NAME} assistant`),
        el("button", { class: "close", type: "button", "aria-label": "Close chat", onclick: () => this.close() }, "\u00d7")),
      this.log, this.quick, form);
      root.append(this.launcher, this.panel);
      for (const msg of this.data.messages) msg.role === "user" ? this.addUser(msg.text) : this.addBot(msg).update();
      this.quick.hidden = this.data.messages.length > 0;
    }
    connectedCallback() {
      // Reopen after a page load (e.g. a product link was followed), except where it covers the page.
      if (this.data.open && matchMedia("(min-width: 481px)").matches) this.open(false);
    }

    // -- state across page loads (sessionStorage: this tab only, gone when it closes) --
    load() {
      try {
        const saved = JSON.parse(sessionStorage.getItem(STORE));
        if (saved && Array.isArray(saved.messages)) return saved;
      } catch { /* no storage (private mode) or a bad entry: start fresh */ }
      return { messages: [], state: null, open: false };
    }
    save() {
      const messages = this.data.messages.filter((m) => !m.pending).slice(-KEEP);
      try {
        sessionStorage.setItem(STORE, JSON.stringify({ ...this.data, messages }));
      } catch { /* storage full or off: the conversation just does not survive a reload */ }
    }

    // -- panel --
    toggle() { this.panel.hidden ? this.open() : this.close(); }
    open(focus = true) {
      this.panel.hidden = false;
      this.toggleAttribute("open", true);
      this.launcher.setAttribute("aria-expanded", "true");
      this.data.open = true;
      this.save();
      this.log.scrollTop = this.log.scrollHeight;
      if (focus) this.input.focus();
    }
    close() {
      this.panel.hidden = true;
      this.toggleAttribute("open", false);
      this.launcher.setAttribute("aria-expanded", "false");
      this.data.open = false;
      this.save();
      this.launcher.focus();
    }
    headers(extra) {
      const h = { "Content-Type": "application/json", ...extra };
      if (this.apiKey) h.Authorization = `Bearer ${this.apiKey}`;
      if (this.customerToken) h["X-Customer-Token"] = this.customerToken;
      return h;
    }

    // -- turns --
    send(text) {
      this.quick.hidden = true;
      this.data.messages.push({ role: "user", text });
      this.addUser(text);
      if (this.busy) this.queue.push(text); // answered in order once the current reply ends
      else this.turn(text);
    }
    async turn(text) {
      this.busy = true;
      this.log.setAttribute("aria-busy", "true");
      const msg = { role: "bot", id: "", text: "", products: [], citations: [], pending: true };
      this.data.messages.push(msg);
      const view = this.addBot(msg);
      try {
        const response = await fetch(new URL("v1/chat", API), {
          method: "POST", headers: this.headers({ Accept: "text/event-stream" }),
          body: JSON.stringify({ message: text, state: this.data.state, stream: true, show: "cards" }),
        });
        if (!response.ok) throw new Error(await problem(response));
        for await (const [event, data] of events(response)) {
          if (event === "products") msg.products = data.products || [];
          else if (event === "delta") msg.text += data.delta || "";
          else if (event === "error") throw new Error(data.message);
          else if (event === "done") {
            const r = data.response;
            Object.assign(msg, { id: r.id, text: r.text, products: r.products || [], citations: r.citations || [],
              suggestions: r.suggestions || [], route: r.route });
            this.data.state = r.state;
          }
          view.update();
        }
        if (!msg.id) throw new Error("the reply was cut off; please try again");
      } catch (err) {
        msg.error = err instanceof TypeError ? "The assistant could not be reached; please try again." : String(err.message || err);
      }
      delete msg.pending;
      view.update();
      this.save();
      this.busy = false;
      this.log.setAttribute("aria-busy", "false");
      if (this.queue.length) this.turn(this.queue.shift());
    }

    // -- rendering --
    addUser(text) {
      this.log.append(el("div", { class: "msg user" }, el("p", { text })));
      this.log.scrollTop = this.log.scrollHeight;
    }
    addBot(msg) {
      const body = el("div", { class: "text" });
      const cards = el("ul", { class: "cards", "aria-label": "Products" });
      const box = el("div", { class: "msg bot" }, body, cards);
      this.log.append(box);
      let shown = null;
      let done = false;
      const update = () => {
        this.renderText(body, msg, cards);
        if (msg.products !== shown) {
          shown = msg.products;
          cards.replaceChildren(...msg.products.map((p) => this.card(p)));
          cards.hidden = !msg.products.length;
        }
        if (!msg.pending && !done) {
          done = true;
          if (msg.error) box.append(el("p", { class: "err", role: "alert", text: msg.error }));
          else if (msg.id) box.append(this.thumbs(msg));
        }
        this.log.scrollTop = this.log.scrollHeight;
      };
      return { update };
    }
    /** Paragraphs, "- " list items and **bold**; [id] markers become links to what the turn cited. */
    renderText(container, msg, cards) {
      const cited = new Map(msg.products.map((p) => [p.id, { id: p.id, kind: "product", title: p.title }]));
      for (const c of msg.citations) cited.set(c.id, c);
      // A refusal's offered FAQ questions (response.suggestions) are its "- " items: asked on a click.
      const offered = new Set(msg.pending ? [] : (msg.suggestions || []).map((s) => s.question));
      let text = msg.text;
      if (msg.pending) text = text.replace(/\[[\w.:-]*$/, ""); // a marker still arriving
      const inline = (line) => {
        const out = [];
        let at = 0;
        for (const m of line.matchAll(INLINE)) {
          out.push(line.slice(at, m.index));
          at = m.index + m[0].length;
          if (m[1]) out.push(el("strong", { text: m[1] }));
          else if (cited.has(m[2])) out.push(this.citation(cited.get(m[2]), msg, cards));
          else if (!msg.pending) out.push(m[0]); // not cited: plain text (while streaming, maybe not yet)
        }
        out.push(line.slice(at));
        return out;
      };
      const nodes = [];
      let list = null;
      let para = null;
      for (const line of text.split("\n")) {
        const item = /^\s*[-*] (.*)$/.exec(line);
        if (item) {
          if (!list) nodes.push((list = el("ul")));
          const question = item[1].trim();
          list.append(el("li", {}, ...(offered.has(question)
            ? [el("button", { class: "ask", type: "button", onclick: () => this.send(question) }, question)]
            : inline(item[1]))));
          para = null;
        } else if (!line.trim()) {
          list = para = null;
        } else {
          list = null;
          if (para) para.append(el("br"));
          else nodes.push((para = el("p")));
          para.append(...inline(line));
        }
      }
      container.replaceChildren(...nodes);
    }
    citation(c, msg, cards) {
      if (c.kind === "product") {
        const card = msg.products.find((p) => p.id === c.id);
        const href = card && safeUrl(card.url, document.baseURI);
        const label = `Details of ${c.title}`;
        if (href) return el("a", { class: "cite", href, "aria-label": label }, "details");
        return el("button", { class: "cite", type: "button", "aria-label": label, onclick: () => {
          const target = [...cards.children].find((li) => li.dataset.productId === c.id);
          if (target) { target.scrollIntoView({ block: "nearest" }); target.focus(); }
        } }, "details");
      }
      if (c.kind === "faq" && cfg.policyUrl) {
        const href = safeUrl(cfg.policyUrl.replace("{id}", encodeURIComponent(c.id)), document.baseURI);
        if (href) return el("a", { class: "cite", href }, c.title);
      }
      return el("cite", { class: "cite" }, c.title || c.id);
    }
    card(p) {
      const inStock = p.in_stock !== false; // the stream leaves out fields at their default
      const href = safeUrl(p.url, document.baseURI);
      const image = safeUrl(p.image_url, IMAGES);
      return el("li", { class: "card", "data-product-id": p.id, tabindex: "-1" },
        image ? el("img", { src: image, alt: "", width: "64", height: "64", loading: "lazy" }) : el("div", { class: "noimg" }),
        el("div", { class: "info" },
          href ? el("a", { class: "title", href }, p.title) : el("span", { class: "title" }, p.title),
          el("span", { class: "price" }, money(p.price, p.currency)),
          el("span", { class: inStock ? "stock" : "stock out" }, inStock ? "In stock" : "Out of stock"),
          el("button", {
            class: "cart", type: "button", disabled: !inStock, "aria-label": `Add ${p.title} to cart`,
            onclick: () => this.dispatchEvent(new CustomEvent("shopassist:add-to-cart", {
              bubbles: true, composed: true,
              detail: { productId: p.id, title: p.title, price: p.price, currency: p.currency },
            })),
          }, "Add to cart")));
    }
    thumbs(msg) {
      const note = el("span", { class: "note" });
      const buttons = [["up", "Helpful"], ["down", "Not helpful"]].map(([verdict, label]) =>
        el("button", { type: "button", "data-verdict": verdict, "aria-label": label,
          "aria-pressed": String(msg.verdict === verdict), onclick: () => this.vote(msg, verdict, buttons, note) },
        icon(THUMB)));
      return el("div", { class: "thumbs", role: "group", "aria-label": "Was this answer helpful?" }, ...buttons, note);
    }
    async vote(msg, verdict, buttons, note) {
      for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.verdict === verdict));
      try {
        const response = await fetch(new URL("v1/feedback", API), {
          method: "POST", headers: this.headers({ "Idempotency-Key": `${msg.id}:${verdict}` }),
          body: JSON.stringify({ kind: "chat", item_id: msg.id, verdict, text: msg.text.slice(0, 20000), intent: msg.route || "" }),
        });
        if (!response.ok) throw new Error(await problem(response));
        msg.verdict = verdict;
        this.save();
        note.textContent = "Thanks for the feedback";
      } catch {
        for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.verdict === msg.verdict));
        note.textContent = "The feedback could not be sent";
      }
    }
  }

  customElements.define("shop-assistant", ShopAssistant);
  const mount = () => {
    if (!document.querySelector("shop-assistant")) document.body.append(document.createElement("shop-assistant"));
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
