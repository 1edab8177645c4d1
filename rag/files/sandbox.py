"""Run a reader of an untrusted file in a child process, so a crash, a hang or a memory blow-up is refused.

The child is forked from a forkserver (a fresh single-threaded process, never the multi-threaded server
itself) that has already imported the readers, so each file costs a fork, not an interpreter start. In the
child: address-space and CPU-time limits (setrlimit), no core dumps, no network (sockets refuse to connect).
In the parent: a wall-clock timeout, after which the child is killed. The result comes back as JSON text
over a pipe and is rebuilt field by field; nothing the child sends is unpickled.

Like every spawn/forkserver child, the forkserver imports the main program once (a console script such as
`rag`, or `python -m …`); a program read from stdin cannot use the sandbox.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import resource
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from typing import Any

from rag.errors import CorpusError
from rag.files.limits import MIB, FileLimits, human_bytes
from rag.files.records import DecodedFile

Reader = Callable[[str, bytes, FileLimits], DecodedFile]

# Imported once in the forkserver, so a child starts with them loaded.
PRELOAD = ["rag.files.html", "rag.files.docx", "rag.files.pdf"]
# What a file is called in refusals: (the file, its reader).
WHAT = {
    "pdf": ("the PDF", "PDF reader"),
    "docx": ("the Word file", "Word reader"),
    "html": ("the web page", "HTML reader"),
}

_lock = threading.Lock()
_context: BaseContext | None = None


def run_sandboxed(reader: Reader, name: str, data: bytes, limits: FileLimits, kind: str) -> DecodedFile:
    """`reader(name, data, limits)` in a limited child process; CorpusError for a refusal, crash or excess."""
    the_file, the_reader = WHAT.get(kind, ("the file", "reader"))
    ctx = _get_context()
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(sender, reader, name, data, limits), daemon=True)  # type: ignore[attr-defined]
    child.start()
    sender.close()  # the child holds the only writer: a dead child reads as end of file
    try:
        ready = wait([receiver, child.sentinel], timeout=limits.max_seconds)
        if not ready:
            raise CorpusError(name, f"reading {the_file} took longer than {limits.max_seconds:g} s; refused")
        payload = _receive(receiver, _reply_limit(limits))
        if payload is None:
            child.join(timeout=5)
            raise CorpusError(name, _death_reason(child.exitcode, the_file, the_reader, limits))
        return _result(name, payload, the_file, the_reader, limits)
    finally:
        if child.is_alive():
            child.kill()
        child.join(timeout=5)
        receiver.close()


def warm_up() -> float:
    """Start the forkserver now (it imports the readers: ~0.5 s, measured), so the first file is not slower."""
    started = time.perf_counter()
    run_sandboxed(_noop, "warm-up", b"", FileLimits(), "")
    return time.perf_counter() - started


def _get_context() -> BaseContext:
    global _context
    with _lock:
        if _context is None:
            _check_main_importable()
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)  # type: ignore[attr-defined]
            _context = ctx
        return _context


def _check_main_importable() -> None:
    """Children re-import the main program from its file (multiprocessing's rule); say so if they cannot."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if getattr(main, "__spec__", None) is None and path and not os.path.exists(path):
        raise RuntimeError(f"rag.files cannot start its sandbox: the main program `{path}` is not a file it can import")


def _child(sender: Connection, reader: Reader, name: str, data: bytes, limits: FileLimits) -> None:
    _limit_resources(limits)
    _deny_network()
    try:
        reply: dict[str, Any] = {"ok": reader(name, data, limits).to_plain()}
    except CorpusError as exc:
        reply = {"refused": exc.reason, "line": exc.line}
    except MemoryError:
        reply = {"memory": True}
    except RecursionError:
        reply = {"crash": "RecursionError"}
    except Exception as exc:
        reply = {"crash": type(exc).__name__}
    try:
        payload = json.dumps(reply, ensure_ascii=False).encode("utf-8")
    except MemoryError:
        payload = b'{"memory": true}'
    sender.send_bytes(payload)
    sender.close()


def _limit_resources(limits: FileLimits) -> None:
    cpu = math.ceil(limits.max_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))  # SIGXCPU at the soft limit, SIGKILL later
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Not enforceable on every platform (macOS); the timeout still applies there.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limits.max_memory_bytes, limits.max_memory_bytes))


def _deny_network() -> None:
    """Readers must never fetch what a file references; refuse it here in case a library tries."""

    def refuse(*_args: object, **_kwargs: object) -> Any:
        raise OSError("network access is disabled while reading a file")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse
    socket.getaddrinfo = refuse


def _receive(receiver: Connection, limit: int) -> bytes | None:
    try:
        return receiver.recv_bytes(maxlength=limit)
    except (EOFError, OSError):
        return None


def _reply_limit(limits: FileLimits) -> int:
    # Decoded text is never longer than the (inflated) file as JSON; a reply beyond this is not a result.
    return 4 * max(limits.max_bytes, limits.max_uncompressed_bytes) + MIB


def _death_reason(exitcode: int | None, the_file: str, the_reader: str, limits: FileLimits) -> str:
    if exitcode in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"reading {the_file} took longer than {limits.max_seconds:g} s of processor time; refused"
    if exitcode is not None and exitcode < 0:
        return f"the {the_reader} crashed on this file (signal {signal.Signals(-exitcode).name}); refused"
    return f"the {the_reader} crashed on this file (it exited with status {exitcode}); refused"


def _result(name: str, payload: bytes, the_file: str, the_reader: str, limits: FileLimits) -> DecodedFile:
    try:
        reply = json.loads(payload.decode("utf-8"))
        if "ok" in reply:
            return DecodedFile.from_plain(reply["ok"])
        if "refused" in reply:
            line = reply.get("line")
            raise CorpusError(name, str(reply["refused"]), line if type(line) is int else None)
        if reply.get("memory"):
            raise CorpusError(
                name, f"reading {the_file} needed more than {human_bytes(limits.max_memory_bytes)} of memory; refused"
            )
        detail = str(reply.get("crash", "no result"))[:80]
    except CorpusError:
        raise
    except (ValueError, TypeError, AttributeError):
        detail = "an unreadable result"
    raise CorpusError(name, f"the {the_reader} crashed on this file ({detail}); refused")


def _noop(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    return DecodedFile(text="", file_type="text", encoding="utf-8")
