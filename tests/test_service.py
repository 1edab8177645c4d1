"""The Service: answer cache, hot reload of a new index generation, one generation per request, readiness."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.waiting import wait_until

from rag import HistoryTurn, Index, Settings
from rag.index.generations import CURRENT, current_generation, publish
from rag.records import AskRequest
from rag.service import AnswerCache, NotReady, Service

QUESTION = "中国移动目前全国客户规模有多少？"


def copy_generation(settings: Settings, tmp_path: Path, corrupt: bool = False) -> tuple[Settings, str, str]:
    """A private index folder holding the real generation, and a copy of it under a new generation name.

    Returns (settings for the private folder, serving generation, new generation — not yet published).
    """
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    serving = current_generation(settings.index_dir)
    assert serving is not None
    shutil.copytree(settings.index_dir / serving, index_dir / serving)
    shutil.copytree(settings.index_dir / "segments", index_dir / "segments")
    (index_dir / CURRENT).write_text(serving + "\n", encoding="utf-8")
    new = serving[:-8] + "feedbeef" if not serving.endswith("feedbeef") else serving[:-8] + "deadbeef"
    shutil.copytree(index_dir / serving, index_dir / new)
    manifest_path = index_dir / new / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["generation"] = new
    if corrupt:  # names its segment with another checksum than the segment has
        manifest["segments"][0]["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    private = settings.model_copy(update={"index_dir": index_dir, "reload_check_seconds": 0.0})
    return private, serving, new


def loaded(service: Service, timeout: float = 60) -> None:
    def ready() -> bool:
        service.refresh(force=True, wait=True)
        return service.ready

    wait_until(ready, timeout, "the service to load its index", 0.05)


def test_cache_key_includes_every_input(settings: Settings, index: Index) -> None:
    service = Service(settings, index=index)
    first = service.ask(AskRequest(QUESTION, top_k=2))
    assert first.cached is False
    again = service.ask(AskRequest("  " + QUESTION + " ", top_k=2))
    assert again.cached is True and again.answer.quotes == first.answer.quotes
    assert again.answer.timings_ms["embed"] == 0.0
    history = [HistoryTurn("张平安如何看待马栏山？", "…", ("张平安",))]
    assert service.ask(AskRequest(QUESTION, top_k=2, history=history)).cached is False
    assert service.ask(AskRequest(QUESTION, top_k=2, mode="bm25")).cached is False
    assert service.ask(AskRequest(QUESTION, top_k=2, speaker="张冬")).cached is False
    assert service.ask(AskRequest(QUESTION, top_k=2, history=history)).cached is True


def test_cache_is_bounded_lru() -> None:
    cache = AnswerCache(2)
    sentinel = object()
    cache.put("a", sentinel)  # type: ignore[arg-type]
    cache.put("b", sentinel)  # type: ignore[arg-type]
    assert cache.get("a") is sentinel  # a is now most recent
    cache.put("c", sentinel)  # type: ignore[arg-type]
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") is sentinel
    off = AnswerCache(0)
    off.put("a", sentinel)  # type: ignore[arg-type]
    assert off.get("a") is None and len(off) == 0


def test_new_generation_is_swapped_in_and_requests_keep_theirs(settings: Settings, tmp_path: Path) -> None:
    private, serving, new = copy_generation(settings, tmp_path)
    service = Service(private)
    service.start()
    try:
        loaded(service)
        assert service.status().generation == serving
        before = service.index()  # a request in flight holds this reference
        answer = service.ask(AskRequest(QUESTION)).answer
        assert answer.generation == serving
        assert service.ask(AskRequest(QUESTION)).cached is True

        publish(private.index_dir, private.index_dir / new)
        service.refresh(force=True, wait=True)
        assert service.status().generation == new
        after = service.ask(AskRequest(QUESTION)).answer
        assert after.generation == new  # the cache key holds the generation: no stale answer
        assert service.ask(AskRequest(QUESTION)).cached is True
        # The request that started before the swap is answered wholly from its own generation.
        assert service.ask(AskRequest("张平安如何看待马栏山？"), index=before).answer.generation == serving
        assert before.generation == serving
    finally:
        service.stop()


def test_a_broken_generation_never_replaces_the_serving_one(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    private, serving, new = copy_generation(settings, tmp_path, corrupt=True)
    service = Service(private)
    service.start()
    try:
        loaded(service)
        publish(private.index_dir, private.index_dir / new)
        with caplog.at_level("ERROR", logger="rag.service"):
            service.refresh(force=True, wait=True)
        assert service.status().generation == serving and service.status().ready
        assert any(new in r.getMessage() for r in caplog.records)
        assert service.ask(AskRequest(QUESTION)).answer.found
        # Not retried on every request: only a newer generation is tried again.
        service.refresh()
        assert service.status().loading is None
    finally:
        service.stop()


def test_not_ready_without_an_index(fresh_settings: Settings) -> None:
    service = Service(fresh_settings)
    service.start()
    try:
        service.refresh(force=True, wait=True)
        status = service.status()
        assert not status.ready and status.state == "missing"
        with pytest.raises(NotReady):
            service.index()
        assert service.wait_ready(0.01) is False
    finally:
        service.stop()


def test_watcher_picks_up_a_generation_without_requests(settings: Settings, tmp_path: Path) -> None:
    private, _, new = copy_generation(settings, tmp_path)
    private = private.model_copy(update={"reload_check_seconds": 0.05})
    service = Service(private)
    service.start()
    try:
        assert service.wait_ready(60)
        publish(private.index_dir, private.index_dir / new)
        wait_until(lambda: service.status().generation == new, 60, "the new generation to serve")
        assert service.status().generation == new
    finally:
        service.stop()
