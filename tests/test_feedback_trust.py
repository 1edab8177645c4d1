"""Feedback is trustworthy (issue 18, problem 3): only ask ids the server issued, the server's record of what was
asked and answered, a per-client limit and a bounded database — through the real app and real SQLite."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.servers import save_figures

from app.main import create_app
from rag import Index, Settings
from rag.feedback import FeedbackStore
from rag.service import Service

QUESTION = "张平安如何看待马栏山？"


@pytest.fixture()
def private(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"feedback_db": tmp_path / "fb.sqlite3"})


@pytest.fixture()
def client(private: Settings, index: Index) -> Iterator[TestClient]:
    with TestClient(create_app(private, service=Service(private, index=index))) as c:
        yield c


def rows(settings: Settings) -> list[dict[str, Any]]:
    return FeedbackStore(settings.feedback_db).feedback()


def test_an_ask_id_the_server_never_issued_is_refused(client: TestClient, private: Settings) -> None:
    forged = [f"{n:032x}" for n in range(20)] + ["a" * 48, "0" * 48]
    started = time.perf_counter()
    codes = Counter(
        client.post("/feedback", json={"ask_id": a, "rating": "down", "question": "伪造的问题"}).status_code
        for a in forged
    )
    elapsed = time.perf_counter() - started
    stored = rows(private)
    save_figures("forged-feedback", {"sent": len(forged), "statuses": dict(codes), "rows_stored": len(stored)})
    assert codes == Counter({422: len(forged)}) and stored == [], (codes, len(stored))
    detail = client.post("/feedback", json={"ask_id": "b" * 48, "rating": "up", "question": "x"}).json()["detail"]
    assert detail.startswith("Unknown ask_id") and elapsed < 30


def test_the_stored_question_and_quotes_are_the_servers(client: TestClient, private: Settings) -> None:
    answer = client.post("/ask", json={"question": QUESTION}).json()
    invented = {
        "ask_id": answer["ask_id"],
        "rating": "down",
        "question": "一个从未被问过的问题",
        "resolved_question": "伪造",
        "found": not answer["found"],
        "quote_ids": ["invented-p1", "invented-p2"],
        "generation": "gen-invented",
        "comment": "评论是用户自己的",
    }
    assert client.post("/feedback", json=invented).status_code == 201
    (row,) = rows(private)
    assert row["question"] == QUESTION and row["found"] == answer["found"]
    assert row["quote_ids"] == [q["paragraph_id"] for q in answer["quotes"]]
    assert row["generation"] == answer["generation"] and row["comment"] == "评论是用户自己的"


def test_feedback_is_limited_per_client(private: Settings, index: Index) -> None:
    limited = private.model_copy(update={"feedback_per_minute": 5})
    with TestClient(create_app(limited, service=Service(limited, index=index))) as client:
        ask_id = client.post("/ask", json={"question": QUESTION}).json()["ask_id"]
        codes = [
            client.post("/feedback", json={"ask_id": ask_id, "rating": "up", "question": QUESTION}).status_code
            for _ in range(8)
        ]
    assert codes[:5] == [201] * 5 and codes[5:] == [429] * 3, codes


def test_the_database_has_a_stated_size(private: Settings, index: Index) -> None:
    capped = private.model_copy(update={"max_feedback_rows": 3, "max_logged_questions": 5})
    with TestClient(create_app(capped, service=Service(capped, index=index))) as client:
        ids = [client.post("/ask", json={"question": f"{QUESTION}（{i}）"}).json()["ask_id"] for i in range(8)]
        codes = [
            client.post("/feedback", json={"ask_id": a, "rating": "up", "question": QUESTION}).status_code
            for a in ids[:5]
        ]
        update = client.post("/feedback", json={"ask_id": ids[0], "rating": "down", "question": QUESTION})
    counts = FeedbackStore(capped.feedback_db).counts()
    assert codes == [201, 201, 201, 503, 503], codes
    assert update.status_code == 201  # what was given is still updated, never deleted
    assert counts == {"feedback": 3, "questions": 5}, counts
    logged = [r["ask_id"] for r in FeedbackStore(capped.feedback_db).questions()]
    assert logged == ids[3:]  # the oldest questions went first


def test_every_worker_recognises_the_ids_another_issued(private: Settings) -> None:
    from app.ask_ids import AskIds

    first, second = AskIds.for_settings(private), AskIds.for_settings(private)
    assert second.issued(first.issue()) and first.issued(second.issue())
    key = Path(f"{private.feedback_db}.key")
    assert key.stat().st_mode & 0o077 == 0
    other = private.model_copy(update={"feedback_db": private.feedback_db.with_name("other.sqlite3")})
    assert not AskIds.for_settings(other).issued(first.issue())
