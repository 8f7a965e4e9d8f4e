"""The deployment recipes in deploy/ stay in step with the code: every YAML file parses, every
SHOPASSIST_* variable they set names a real setting and lands in it, the probes use the API's
health paths, and the vLLM servers serve the base model and shipped adapters the API asks for."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from assistant.config import Settings, load_settings
from assistant.generation.models import DEFAULT_MODEL_NAME
from assistant.generation.serving import adapter_rank
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
SHIPPED = REPO / "assistant" / "generation" / "shipped"
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def documents() -> dict[Path, list[dict[str, Any]]]:
    return {
        path: [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        for path in sorted(DEPLOY.rglob("*.yaml"))
    }


def example_env() -> dict[str, str]:
    """deploy/example.env, the values compose's ${VAR} interpolation takes in this test."""
    pairs = {}
    for line in (DEPLOY / "example.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def _interpolate(value: Any, env: dict[str, str]) -> str:
    return _INTERPOLATION.sub(lambda m: env.get(m.group(1), f"<{m.group(1)}>"), str(value))


def recipes() -> list[tuple[str, dict[str, str]]]:
    """(where, environment) of each place a recipe sets variables: compose services, the k8s
    ConfigMap and Secret merged (as the pods' envFrom reads them), containers' own env."""
    env = example_env()
    found: list[tuple[str, dict[str, str]]] = []
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        variables = service.get("environment") or {}
        if isinstance(variables, list):
            variables = dict(item.split("=", 1) for item in variables)
        found.append((f"compose {name}", {k: _interpolate(v, env) for k, v in variables.items()}))
    merged: dict[str, str] = {}
    for path, docs in documents().items():
        for doc in docs:
            if doc.get("kind") in ("ConfigMap", "Secret"):
                merged.update(
                    {k: str(v) for k, v in (doc.get("data") or doc.get("stringData") or {}).items()}
                )
            spec = doc.get("spec", {}).get("template", {}).get("spec", {})
            for container in spec.get("containers", []) + spec.get("initContainers", []):
                own = {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}
                found.append((f"{path.name} {container['name']}", own))
    found.append(("k8s ConfigMap + Secret", merged))
    found.append(("example.env", env))
    return found


def _field(path: list[str]) -> Any:
    """The pydantic field a SHOPASSIST_A__B name points at; fails when there is none."""
    model: type[BaseModel] = Settings
    info = None
    for i, part in enumerate(path):
        assert part in model.model_fields, f"no setting {'.'.join(path[: i + 1])}"
        info = model.model_fields[part]
        annotation = info.annotation
        if i < len(path) - 1:
            assert isinstance(annotation, type) and issubclass(annotation, BaseModel), f"{part} has no fields"
            model = annotation
    return info


def _matches(actual: Any, raw: str) -> bool:
    """Whether a setting's loaded value is what the variable's text says."""
    if isinstance(actual, bool):
        return actual == (raw.lower() in ("1", "true", "yes", "on"))
    if isinstance(actual, (int, float)):
        return float(actual) == float(raw)
    if isinstance(actual, list):
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = [part.strip() for part in raw.split(",")]
        flat = [getattr(a, "key", a) for a in actual]
        return flat == [p["key"] if isinstance(p, dict) else p for p in parsed]
    return str(actual) == raw


def test_every_recipe_file_is_valid_yaml() -> None:
    parsed = documents()
    assert {p.name for p in parsed} >= {
        "compose.yaml",
        "config.yaml",
        "api.yaml",
        "chroma.yaml",
        "postgres.yaml",
        "vllm.yaml",
        "ingest-job.yaml",
    }
    kinds = {doc["kind"] for docs in parsed.values() for doc in docs if "kind" in doc}
    assert kinds >= {
        "Deployment",
        "Service",
        "StatefulSet",
        "ConfigMap",
        "Secret",
        "HorizontalPodAutoscaler",
        "Job",
    }


@pytest.mark.parametrize("where, variables", recipes(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_shopassist_variable_is_a_real_setting_and_lands_in_it(
    where: str, variables: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os

    ours = {k: v for k, v in variables.items() if k.startswith("SHOPASSIST_")}
    for name in list(os.environ):
        if name.startswith("SHOPASSIST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no shopassist.toml
    for name, value in ours.items():
        if name not in ("SHOPASSIST_IMAGE",):  # the image tag compose reads, not a setting
            _field(name.removeprefix("SHOPASSIST_").lower().split("__"))
        monkeypatch.setenv(name, value)
    settings = load_settings()  # raises ConfigError on any value a setting refuses
    for name, value in ours.items():
        if name == "SHOPASSIST_IMAGE":
            continue
        actual: Any = settings
        for part in name.removeprefix("SHOPASSIST_").lower().split("__"):
            actual = getattr(actual, part)
        assert _matches(actual, value), f"{where}: {name}={value!r} loaded as {actual!r}"


def test_the_api_is_probed_on_its_health_paths() -> None:
    from assistant.api.security import OPEN_PATHS

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert "/livez" in " ".join(compose["services"]["api"]["healthcheck"]["test"])
    assert "GET /readyz" in (DEPLOY / "haproxy.cfg").read_text()
    api = next(d for d in documents()[DEPLOY / "k8s" / "api.yaml"] if d["kind"] == "Deployment")
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert {"/livez", "/readyz"} <= set(OPEN_PATHS)  # answered without an API key
    assert container["args"][0] == "api"


def _vllm_args(args: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Flags (--name=value) and LoRA modules (name=path after --lora-modules) of a vLLM command."""
    flags: dict[str, str] = {}
    loras: dict[str, str] = {}
    in_loras = False
    for arg in args:
        if arg.startswith("--"):
            in_loras = arg == "--lora-modules"
            name, _, value = arg.partition("=")
            flags[name] = value
        elif in_loras:
            name, _, path = arg.partition("=")
            loras[name] = path
    return flags, loras


def test_the_vllm_servers_serve_the_base_model_and_every_shipped_adapter() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    k8s = next(d for d in documents()[DEPLOY / "k8s" / "vllm.yaml"] if d["kind"] == "Deployment")
    shipped = {p.name: adapter_rank(p) for p in SHIPPED.iterdir() if (p / "adapter_config.json").exists()}
    commands = [
        compose["services"]["vllm-a"]["command"],
        compose["services"]["vllm-b"]["command"],
        k8s["spec"]["template"]["spec"]["containers"][0]["args"],
    ]
    for args in commands:
        flags, loras = _vllm_args(args)
        assert flags["--served-model-name"] == DEFAULT_MODEL_NAME
        assert flags["--model"].endswith("/" + DEFAULT_MODEL_NAME)
        assert "--enable-lora" in flags and int(flags["--max-loras"]) >= len(shipped)
        assert set(loras) == set(shipped)
        assert all(path.endswith("/" + name) for name, path in loras.items())
        assert int(flags["--max-lora-rank"]) >= max(shipped.values())
    env = dict(recipes())
    assert env["compose api"]["SHOPASSIST_GENERATOR__SERVED_MODEL"] == DEFAULT_MODEL_NAME
    assert env["k8s ConfigMap + Secret"]["SHOPASSIST_GENERATOR__SERVED_MODEL"] == DEFAULT_MODEL_NAME
    urls = env["compose api"]["SHOPASSIST_GENERATOR__URL"].split(",")
    assert {u.split("//")[1].split(":")[0] for u in urls} == {"vllm-a", "vllm-b"}
    assert k8s["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
