"""Agent policies in the ASAPP ABCD format, and which FAQ entries they govern.

ABCD describes customer-service work as flows (e.g. "Product Defect") of subflows (e.g. "Initiate
Refund"); for each subflow the kb lists the required agent actions in order (pull up the account,
validate the purchase, ... offer the refund), the guidelines say in words how to do each, and the
ontology ties the guideline names to the kb's subflow ids and gives each action's slots. The same
three documents load from ABCD's own files (a folder) or from one file holding all three, which is
how the packaged demo policies ship, so a shop writes its own policies in a documented format.

Which subflow an FAQ entry falls under is data too (`policy_map.json`): entry ids first, then
categories, each naming candidate subflows of which the first present in the loaded policies wins,
so one map serves the demo policies and ABCD alike.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from assistant.assist.protocol import Step
from assistant.errors import ConfigError

GUIDELINES, KB, ONTOLOGY = "abcd_guidelines.json", "abcd_kb.json", "abcd_ontology.json"
# ABCD's guideline buttons whose kb action id is not simply the button's slug.
_BUTTON_ALIASES = {
    "notify-internal-team": "notify-team",
    "membership-privileges": "membership",
    "enter-detail": "enter-details",
    "select-answer": "select-faq",
}
_SKIP_BUTTONS = {"n-a", ""}


class PolicyError(ConfigError):
    """A policy or map file is unreadable or inconsistent; the message names the file and the problem."""


def demo_policies_path() -> Path:
    return Path(str(resources.files("assistant.assist") / "demo_policies.json"))


def default_map_path() -> Path:
    return Path(str(resources.files("assistant.assist") / "policy_map.json"))


class Subflow(BaseModel):
    id: str
    name: str
    flow: str
    flow_description: str = ""
    steps: list[Step]
    instructions: list[str] = Field(default_factory=list)

    @property
    def actions(self) -> list[str]:
        return [s.action for s in self.steps]


class Policies(BaseModel):
    source: str
    subflows: dict[str, Subflow]

    def get(self, subflow_id: str) -> Subflow | None:
        return self.subflows.get(subflow_id)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _flow_key(name: str) -> str:
    return _slug(name).replace("-", "_")


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise PolicyError(f"{path}: no such policy file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not UTF-8 text ({exc.reason})") from exc


def _expect(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise PolicyError(f"{where}: {what}")


def load_policies(path: Path | None = None) -> Policies:
    """Policies from an ABCD folder (three files) or one bundled file; None means the demo policies."""
    path = Path(path) if path is not None else demo_policies_path()
    if path.is_dir():
        docs = {name: (_read_json(path / name), str(path / name)) for name in (GUIDELINES, KB, ONTOLOGY)}
        guidelines, kb, ontology = (docs[n] for n in (GUIDELINES, KB, ONTOLOGY))
    else:
        bundle = _read_json(path)
        _expect(isinstance(bundle, dict), str(path), "must be a JSON object with guidelines, kb and ontology")
        missing = [k for k in ("guidelines", "kb", "ontology") if k not in bundle]
        _expect(
            not missing, str(path), f"lacks the key(s) {', '.join(missing)} (needs guidelines, kb, ontology)"
        )
        guidelines = (bundle["guidelines"], f"{path} (guidelines)")
        kb = (bundle["kb"], f"{path} (kb)")
        ontology = (bundle["ontology"], f"{path} (ontology)")
    return _parse(guidelines, kb, ontology, str(path))


def _parse(
    guidelines: tuple[Any, str], kb: tuple[Any, str], ontology: tuple[Any, str], source: str
) -> Policies:
    g, g_where = guidelines
    k, k_where = kb
    o, o_where = ontology
    _expect(isinstance(g, dict) and bool(g), g_where, "must be a non-empty object of flows")
    _expect(
        isinstance(k, dict) and all(isinstance(v, list) for v in k.values()),
        k_where,
        "must map each subflow id to a list of action ids",
    )
    _expect(
        isinstance(o, dict)
        and isinstance(o.get("intents"), dict)
        and isinstance(o["intents"].get("subflows"), dict),
        o_where,
        "needs intents.subflows (flow -> subflow ids)",
    )
    ids_by_flow: dict[str, list[str]] = o["intents"]["subflows"]
    kinds: dict[str, tuple[str, list[str]]] = {}
    for kind, actions in (o.get("actions") or {}).items():
        _expect(isinstance(actions, dict), o_where, f"actions.{kind} must map action ids to slot lists")
        for action, slots in actions.items():
            kinds[action] = (kind, [str(s) for s in slots or []])
    subflows: dict[str, Subflow] = {}
    for flow_name, flow in g.items():
        where = f"{g_where}: flow {flow_name!r}"
        _expect(
            isinstance(flow, dict) and isinstance(flow.get("subflows"), dict),
            where,
            "needs a subflows object",
        )
        key = _flow_key(flow_name)
        ids = ids_by_flow.get(key)
        _expect(
            ids is not None,
            o_where,
            f"intents.subflows has no flow {key!r} for the guidelines' {flow_name!r} (has: {', '.join(ids_by_flow)})",
        )
        assert ids is not None
        names = list(flow["subflows"])
        _expect(
            len(names) == len(ids),
            o_where,
            f"flow {key!r} lists {len(ids)} subflow ids but the guidelines' {flow_name!r} has {len(names)} "
            "subflows; they pair up in order",
        )
        for name, sub_id in zip(names, ids, strict=True):
            body = flow["subflows"][name]
            sub_where = f"{where}, subflow {name!r}"
            _expect(isinstance(body, dict), sub_where, "must be an object with actions and instructions")
            _expect(
                sub_id in k, k_where, f"has no required actions for subflow {sub_id!r} ({flow_name} / {name})"
            )
            _expect(sub_id not in subflows, o_where, f"subflow id {sub_id!r} appears twice")
            guide = body.get("actions") or []
            _expect(isinstance(guide, list), sub_where, "actions must be a list")
            subflows[sub_id] = Subflow(
                id=sub_id,
                name=name,
                flow=key,
                flow_description=str(flow.get("description", "")),
                steps=_steps(k[sub_id], guide, kinds, f"{k_where}: subflow {sub_id!r}"),
                instructions=[str(i) for i in body.get("instructions") or []],
            )
    return Policies(source=source, subflows=subflows)


def _steps(
    actions: list[Any], guide: list[Any], kinds: dict[str, tuple[str, list[str]]], where: str
) -> list[Step]:
    """The kb's required actions in order, each with the first unused guideline text for it."""
    texts: list[tuple[str, dict[str, Any]]] = []
    for item in guide:
        if isinstance(item, dict):
            slug = _slug(str(item.get("button", "")))
            if slug not in _SKIP_BUTTONS:
                texts.append((_BUTTON_ALIASES.get(slug, slug), item))
    used: set[int] = set()
    steps = []
    for action in actions:
        _expect(isinstance(action, str) and bool(action), where, f"action {action!r} is not an action id")
        _expect(
            not kinds or action in kinds,
            where,
            f"action {action!r} is not among the ontology's actions",
        )
        found = next(
            (
                (i, item)
                for i, (slug, item) in enumerate(texts)
                if i not in used and (slug == action or f"search-{slug}" == action)
            ),
            None,
        )
        kind, slots = kinds.get(action, ("", []))
        if found is None:
            steps.append(
                Step(action=action, label=action.replace("-", " ").capitalize(), kind=kind, slots=slots)
            )
            continue
        used.add(found[0])
        item = found[1]
        steps.append(
            Step(
                action=action,
                label=str(item.get("button") or action),
                kind=kind,
                text=str(item.get("text", "")).strip(),
                details=[str(s) for s in item.get("subtext") or []],
                slots=slots,
            )
        )
    return steps


class PolicyMap(BaseModel):
    """FAQ entry id or category -> candidate subflow ids (the first the policies have wins)."""

    entries: dict[str, list[str]] = Field(default_factory=dict)
    categories: dict[str, list[str]] = Field(default_factory=dict)
    order_actions: list[str] = Field(
        default_factory=list,
        description="Subflows with any of these actions are about an order: the customer's orders are shown",
    )

    @field_validator("entries", "categories", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    def subflow_for(self, entry_id: str, category: str, policies: Policies) -> Subflow | None:
        categories = {k.lower(): v for k, v in self.categories.items()}
        for candidates in (self.entries.get(entry_id, []), categories.get(category.lower(), [])):
            for sub_id in candidates:
                sub = policies.get(sub_id)
                if sub is not None:
                    return sub
        return None

    def about_orders(self, subflow: Subflow | None) -> bool:
        return subflow is not None and bool(set(subflow.actions) & set(self.order_actions))


def load_policy_map(path: Path | None = None) -> PolicyMap:
    path = Path(path) if path is not None else default_map_path()
    data = _read_json(path)
    _expect(
        isinstance(data, dict), str(path), "must be a JSON object with entries, categories, order_actions"
    )
    unknown = sorted(set(data) - {"entries", "categories", "order_actions", "_comment"})
    _expect(not unknown, str(path), f"unknown key(s) {', '.join(unknown)}")
    try:
        return PolicyMap.model_validate({k: v for k, v in data.items() if k != "_comment"})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise PolicyError(f"{path}: {loc}: {first['msg']}") from exc
