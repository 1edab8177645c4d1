"""Which generation serves, on either backend: the index folder's CURRENT, or the Milvus alias."""

from __future__ import annotations

from rag.index.generations import current_generation
from rag.settings import Settings


def serving_name(settings: Settings) -> str | None:
    """The serving generation's name (None: nothing published); `StoreUnreachable` when Milvus does not answer."""
    if settings.backend == "local":
        return current_generation(settings.index_dir)
    from rag.index.milvus.connection import serving_generation

    return serving_generation(settings)
