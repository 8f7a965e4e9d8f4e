"""Heavy libraries stay lazy: importing the packages must not import torch, vllm or gradio."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "retrieval",
        "retrieval.catalog",
        "retrieval.query",
        "retrieval.content",
        "assistant.errors",
        "assistant.identity.principal",
        "assistant.api.security",
        "prompts.tasks",
        "assistant.config",
        "assistant.generation",
        "assistant.generation.openai_compat",
        "assistant.generation.serving",
        "prompts",
        "finetune",
    ],
)
def test_import_is_light(module):
    code = (
        f"import sys, {module}; heavy = [m for m in ('torch', 'vllm', 'gradio', 'transformers') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
