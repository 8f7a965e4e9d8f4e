"""A whole-reply regular expression as a llama.cpp GBNF grammar.

Why GBNF and not LLGuidance: GBNF is llama.cpp's own grammar engine, present in every build,
while LLGuidance is an optional Rust component that a build from source (`make native`
builds for this CPU) cannot fetch offline. Once a GBNF grammar is complete llama.cpp allows only
end-of-generation tokens, so the reply ends where the pattern does.

The conversion walks Python's own parse of the pattern, so it accepts exactly Python's syntax; the
subset a decoder can enforce (literals, classes, groups, alternation, bounded or open repeats) is
converted and anything else (look-arounds, back-references) is refused with the construct named.
"""

from __future__ import annotations

import re
from functools import lru_cache
from re import _constants as _c  # type: ignore[attr-defined]  # the stdlib's regex parser (was sre_parse)
from re import _parser as _p  # type: ignore[attr-defined]  # typeshed does not list it
from typing import Any

from assistant.errors import BadInput

_CATEGORY = {
    _c.CATEGORY_DIGIT: "0-9",
    _c.CATEGORY_WORD: "a-zA-Z0-9_",
    _c.CATEGORY_SPACE: " \\t\\n\\r\\f\\v",
}
_NOT_CATEGORY = {
    _c.CATEGORY_NOT_DIGIT: "0-9",
    _c.CATEGORY_NOT_WORD: "a-zA-Z0-9_",
    _c.CATEGORY_NOT_SPACE: " \\t\\n\\r\\f\\v",
}


class GrammarError(BadInput):
    """The pattern uses a construct a decoding grammar cannot enforce (a caller's mistake)."""


@lru_cache(maxsize=64)
def regex_to_gbnf(pattern: str) -> str:
    """A GBNF grammar (rule `root`) whose sentences are exactly the full matches of `pattern`."""
    try:
        parsed = _p.parse(pattern)
    except re.error as exc:
        raise GrammarError(f"not a regular expression: {pattern!r} ({exc})") from exc
    return f"root ::= {_sequence(list(parsed))}\n"


def _char(code: int) -> str:
    """One character escaped for use inside a GBNF string or class."""
    ch = chr(code)
    if ch in '"\\[]-^':
        return "\\" + ch
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if ch == "\r":
        return "\\r"
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02X}"
    return ch


def _sequence(items: list[tuple[Any, Any]]) -> str:
    parts: list[str] = []
    literal = ""
    for op, arg in items:
        if op is _c.LITERAL:
            literal += _char(arg)
            continue
        if literal:
            parts.append(f'"{literal}"')
            literal = ""
        part = _item(op, arg)
        if part:
            parts.append(part)
    if literal:
        parts.append(f'"{literal}"')
    return " ".join(parts) if parts else '""'


def _item(op: Any, arg: Any) -> str:
    if op is _c.NOT_LITERAL:
        return f"[^{_char(arg)}]"
    if op is _c.ANY:
        return "[^\\n]"
    if op is _c.IN:
        return _class(arg)
    if op is _c.BRANCH:
        return "(" + " | ".join(_sequence(list(branch)) for branch in arg[1]) + ")"
    if op is _c.SUBPATTERN:
        group, add_flags, del_flags, inner = arg
        if add_flags or del_flags:
            raise GrammarError("inline flags such as (?i:...) cannot be enforced by a grammar")
        return f"({_sequence(list(inner))})"
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        low, high, inner = arg
        body = f"({_sequence(list(inner))})"
        if high is _c.MAXREPEAT:
            return f"{body}*" if low == 0 else f"{body}+" if low == 1 else f"{body}{{{low},}}"
        if (low, high) == (0, 1):
            return f"{body}?"
        return f"{body}{{{low}}}" if low == high else f"{body}{{{low},{high}}}"
    if op is _c.AT and arg in (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING, _c.AT_END, _c.AT_END_STRING):
        return ""  # the grammar spans the whole reply: ^ and $ hold by construction
    if op is _c.CATEGORY:
        return _class([(op, arg)])
    raise GrammarError(f"a grammar cannot enforce the regular-expression construct {op}")


def _class(members: list[tuple[Any, Any]]) -> str:
    negate = False
    inside = ""
    for op, arg in members:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            inside += _char(arg)
        elif op is _c.RANGE:
            inside += f"{_char(arg[0])}-{_char(arg[1])}"
        elif op is _c.CATEGORY and arg in _CATEGORY:
            inside += _CATEGORY[arg]
        elif op is _c.CATEGORY and arg in _NOT_CATEGORY and len(members) == 1:
            return f"[^{_NOT_CATEGORY[arg]}]"
        else:
            raise GrammarError(f"a grammar cannot enforce the character-class member {op} {arg}")
    return f"[{'^' if negate else ''}{inside}]"
