"""Prompt templates (Jinja2 files beside this module), rendered by name.

Prompts live in files so that a shop can read and change what the model is told without touching
code. They are grouped by task (`chat/`, `copy/`, `assist/`, `faq/`, `tasks/`): `render("chat/refuse", ...)`
reads `chat/refuse.j2`. `prompts.tasks` builds the messages of the fine-tuned tasks, which training
(`finetune`) and serving (the services) must spell identically.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_source),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _source(name: str) -> str:
    path = resources.files(__name__) / f"{name}.j2"
    if not path.is_file():
        raise FileNotFoundError(f"no prompt template {name}.j2 in the prompts package")
    return path.read_text(encoding="utf-8")


def render(name: str, **values: Any) -> str:
    """Render a template; a missing variable is an error, never an empty string."""
    return _environment().get_template(name).render(**values).strip()


def render_messages(name: str, **values: Any) -> list[dict[str, str]]:
    """Render a `NAME.json.j2` template that produces a JSON list of chat messages."""
    import json

    messages = json.loads(render(f"{name}.json", **values))
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
