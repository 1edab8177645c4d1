"""The Milvus client for the settings, the collection names of a generation, and the unreachable refusal."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from rag.errors import IndexUnavailable, StoreUnreachable
from rag.index.layout import MilvusCollections
from rag.settings import Settings

log = logging.getLogger("rag.milvus")
T = TypeVar("T")
_clients: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()
EMBEDDED_FILE = "milvus.db"
_GENERATION = re.compile(r"^gen-(\d{8}T\d{6})\.(\d{9})-([0-9a-f]{6})$")
_COLLECTION_ID = re.compile(r"^g(\d{8}T\d{6})_(\d{9})_([0-9a-f]{6})$")


def milvus_uri(settings: Settings) -> str:
    """The configured URI, or the embedded milvus-lite file in the index folder."""
    return settings.milvus_uri or str(settings.index_dir / EMBEDDED_FILE)


def unreachable(settings: Settings, exc: BaseException) -> StoreUnreachable:
    return StoreUnreachable(
        f"Milvus at {milvus_uri(settings)} is unreachable ({type(exc).__name__}: {str(exc)[:200]}); start it or fix "
        "RAG_MILVUS_URI / RAG_MILVUS_TOKEN (a server keeps trying and resumes by itself)."
    )


_AWAY = ("unavailable", "deadline", "connect", "timeout", "timed out", "closed channel", "socket")


@contextlib.contextmanager
def reaching(settings: Settings) -> Iterator[None]:
    """Turn the client's errors into refusals naming the fix: `StoreUnreachable` when Milvus does not answer."""
    import grpc
    from pymilvus.exceptions import ConnectError, ConnectionNotExistException, MilvusException

    try:
        yield
    except IndexUnavailable:
        raise
    except (ConnectError, ConnectionNotExistException, grpc.RpcError, OSError, ConnectionError) as exc:
        raise unreachable(settings, exc) from None
    except MilvusException as exc:
        if "open local milvus failed" in str(exc).lower():
            raise StoreUnreachable(
                f"The embedded Milvus file {milvus_uri(settings)} is open in another process (milvus-lite lets one "
                "process open it); stop that process, or run `milvus-lite server --data-dir DIR` or a Milvus server "
                "and set RAG_MILVUS_URI=http://host:19530 for every process."
            ) from None
        if any(word in str(exc).lower() for word in _AWAY):
            raise unreachable(settings, exc) from None
        raise IndexUnavailable(
            f"Milvus at {milvus_uri(settings)} refused a request ({str(exc)[:300]}); "
            "run `rag build --force` with RAG_BACKEND=milvus to rebuild the index there."
        ) from None


def call(settings: Settings, collection: str, request: Callable[[Any], T]) -> T:
    """`request(client)` on `collection`, loading the collection first when the server released it.

    milvus-lite releases every collection when it restarts (a server reloads loaded collections itself);
    the first request after that reloads it instead of failing until the next publish.
    """
    from pymilvus.exceptions import MilvusException

    milvus = client(settings)
    with reaching(settings):
        try:
            return request(milvus)
        except MilvusException as exc:
            if "released" not in str(exc) and "load" not in str(exc):
                raise
            log.info("Milvus collection %s was released; loading it again", collection)
            milvus.load_collection(collection)
            return request(milvus)


def client(settings: Settings) -> Any:
    """One `MilvusClient` per URI and token in this process (it is thread-safe)."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise IndexUnavailable(
            "RAG_BACKEND=milvus needs the Milvus client: pip install -e '.[milvus]' (or set RAG_BACKEND=local)."
        ) from None

    uri = milvus_uri(settings)
    key = (uri, settings.milvus_token)
    with _lock:
        found = _clients.get(key)
        if found is not None:
            return found
        if not settings.milvus_uri:
            settings.index_dir.mkdir(parents=True, exist_ok=True)
        with reaching(settings):
            made = MilvusClient(uri=uri, token=settings.milvus_token, timeout=10)
        _clients[key] = made
        return made


def forget_client(settings: Settings) -> None:
    """Drop this process's client (a new one reconnects; called after the server went away)."""
    with _lock:
        made = _clients.pop((milvus_uri(settings), settings.milvus_token), None)
    if made is not None:
        with contextlib.suppress(Exception):
            made.close()


@dataclass(frozen=True)
class Names:
    """The collection names under one prefix."""

    prefix: str

    @property
    def alias(self) -> str:
        """The alias naming the serving generation's files collection (switched atomically)."""
        return f"{self.prefix}_serving"

    def generation(self, name: str) -> MilvusCollections:
        gid = collection_id(name)
        return MilvusCollections(
            paragraphs=f"{self.prefix}_{gid}_paragraphs",
            sentences=f"{self.prefix}_{gid}_sentences",
            files=f"{self.prefix}_{gid}_files",
        )

    def generation_of(self, collection: str) -> str | None:
        """The generation a collection of this prefix belongs to (None: not one of ours)."""
        head = f"{self.prefix}_"
        if not collection.startswith(head):
            return None
        gid = collection[len(head) :].rsplit("_", 1)[0]
        match = _COLLECTION_ID.match(gid)
        if match:
            return f"gen-{match[1]}.{match[2]}-{match[3]}"
        if gid.startswith("x"):
            try:
                return bytes.fromhex(gid[1:]).decode("utf-8")
            except ValueError:
                return None
        return None


def collection_id(generation: str) -> str:
    """A generation's name as Milvus allows it in a collection name (letters, digits, underscores).

    The names `rag build` gives read back as they are (`g20261202T021208_415871202_5191f2`); any other
    name (the benchmarks' synthetic generations) is spelled in hexadecimal.
    """
    match = _GENERATION.match(generation)
    if match is None:
        return "x" + generation.encode("utf-8").hex()
    return f"g{match[1]}_{match[2]}_{match[3]}"


def serving_generation(settings: Settings) -> str | None:
    """The generation the alias names, or None when nothing has been published under this prefix."""
    names = Names(settings.milvus_prefix)
    milvus = client(settings)
    with reaching(settings):
        if names.alias not in milvus.list_aliases().get("aliases", []):
            return None
        target = milvus.describe_alias(names.alias)["collection_name"]
    return names.generation_of(target)
