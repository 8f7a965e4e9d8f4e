"""Prompt templates (Jinja2 files beside this module), rendered by name, in the customer's language.

Prompts live in files so that a shop can read and change what the model is told without touching
code. They are grouped by task (`chat/`, `copy/`, `assist/`, `faq/`, `tasks/`): `render("chat/refuse", ...)`
reads `chat/refuse.j2`. `prompts.tasks` builds the messages of the fine-tuned tasks, which training
(`finetune`) and serving (the services) must spell identically.

What a customer reads is translated with gettext catalogues (Jinja's i18n extension; the sources are
`locale/<lang>/LC_MESSAGES/messages.po`, compiled in memory when first used, so no binary file is
kept): `render(name, locale="zh")`, or every render inside `translating("zh")`, which is how a chat
turn renders all its templates in the reply's language without passing it to every helper. The
templates are the English text; an unknown locale renders English. Prices and dates go through the
`money`, `number` and `date` filters, which format them for the locale (English keeps "129.00 USD"
and ISO dates, which the verifier and older clients read). Model prompts stay English.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, lru_cache
from importlib import resources
from typing import Any

# The locale of renders that name none (see `translating`); None is English.
_ACTIVE: ContextVar[str | None] = ContextVar("prompts_locale", default=None)


@cache
def locales() -> frozenset[str]:
    """Languages the customer-facing text can be rendered in: English and each catalogue's."""
    root = resources.files(__name__) / "locale"
    found = {"en"}
    if root.is_dir():
        found |= {p.name for p in root.iterdir() if (p / "LC_MESSAGES" / "messages.po").is_file()}
    return frozenset(found)


def catalogue_locale(locale: str | None) -> str:
    """The catalogue a locale renders with: 'zh-CN', 'zh_Hans' -> 'zh'; none or no catalogue -> 'en'."""
    code = (locale or "en").strip().replace("_", "-").split("-")[0].lower()
    return code if code in locales() else "en"


@contextmanager
def translating(locale: str | None) -> Iterator[None]:
    """Renders inside the block that name no locale use this one. A context variable, so threads and
    requests never see each other's; callers leave the block before they yield to a client."""
    token = _ACTIVE.set(locale)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def _locale(locale: str | None) -> str:
    return catalogue_locale(locale if locale is not None else _ACTIVE.get())


def translations(locale: str | None) -> Any:
    """The locale's gettext translations (`gettext`, `ngettext`); English (the templates' own text)
    and locales without a catalogue get the identity."""
    return _compiled(catalogue_locale(locale))


@cache
def _catalog(code: str) -> Any:
    """The locale's catalogue, read from its .po source once per process."""
    from babel.messages.pofile import read_po

    with (resources.files(__name__) / "locale" / code / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=code)


@cache
def _compiled(code: str) -> Any:
    """The catalogue compiled in memory (no .mo file is kept), once per process."""
    from gettext import NullTranslations
    from io import BytesIO

    if code == "en":
        return NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.support import Translations

    compiled = BytesIO()
    write_mo(compiled, _catalog(code))  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(fp=compiled, domain="messages")


@cache
def catalogue_text(locale: str | None) -> str:
    """Every translation of the locale's catalogue as one text, placeholders left out ("" for
    English): the words the templates themselves contribute, which a checker need not question."""
    import re

    code = catalogue_locale(locale)
    if code == "en":
        return ""
    strings: list[str] = []
    for message in _catalog(code):
        if message.id:
            strings += [message.string] if isinstance(message.string, str) else list(message.string or ())
    return re.sub(r"%\(\w+\)s", " ", " ".join(strings))


def money(amount: float | None, currency: str, locale: str | None = None) -> str:
    """A price as the locale writes it ("¥1,299.00", "1.299,00 €"); English keeps "1299.00 USD"."""
    code = _locale(locale)
    if amount is None:
        return str(translations(code).gettext("price not listed"))
    if code == "en":
        return f"{amount:.2f} {currency}"
    from babel.numbers import format_currency

    return str(format_currency(amount, currency, locale=code))


def number(value: float, locale: str | None = None) -> str:
    """A number as the locale writes it ("4,7" in German); English keeps Python's "%g" ("4.7", "100")."""
    code = _locale(locale)
    if code == "en":
        return f"{value:g}"
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=code))


def date(value: Any, locale: str | None = None) -> str:
    """An ISO date ("2026-03-02") as the locale writes it ("2026年3月2日", "02.03.2026"); English, and
    anything that is not a date, stay as given."""
    import datetime

    code = _locale(locale)
    if code == "en" or value is None:
        return str(value)
    try:
        day = value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    from babel.dates import format_date

    return str(format_date(day, format="medium", locale=code))


@lru_cache(maxsize=8)
def _environment(locale: str = "en") -> Any:
    """One environment per locale: its translations and formats are installed once, and renders in
    different locales never share mutable state."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_source),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = lambda amount, currency: money(amount, currency, locale)
    env.filters["date"] = lambda value: date(value, locale)
    env.filters["number"] = lambda value: number(value, locale)
    return env


def _source(name: str) -> str:
    path = resources.files(__name__) / f"{name}.j2"
    if not path.is_file():
        raise FileNotFoundError(f"no prompt template {name}.j2 in the prompts package")
    return path.read_text(encoding="utf-8")


def render(name: str, locale: str | None = None, **values: Any) -> str:
    """Render a template in `locale` (default: the one `translating` set, else English); a missing
    variable is an error, never an empty string."""
    return _environment(_locale(locale)).get_template(name).render(**values).strip()


def render_messages(name: str, **values: Any) -> list[dict[str, str]]:
    """Render a `NAME.json.j2` template that produces a JSON list of chat messages."""
    import json

    messages = json.loads(render(f"{name}.json", "en", **values))  # what the model reads stays English
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and {"role", "content"} <= set(m) for m in messages
    ):
        raise ValueError(
            f"prompt template {name}.json.j2 must render a JSON list of {{role, content}} objects"
        )
    return messages


def names() -> list[str]:
    """Every template name, e.g. "chat/refuse"."""
    root = resources.files(__name__)
    found = []
    for group in root.iterdir():
        if group.is_dir() and not group.name.startswith("_"):
            found += [f"{group.name}/{p.name[:-3]}" for p in group.iterdir() if p.name.endswith(".j2")]
    return sorted(found)
