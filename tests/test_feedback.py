"""The feedback store: WAL, parameterised SQL, concurrent writers without loss, the question log, export."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main as rag_cli
from rag.feedback import Feedback, FeedbackStore, QuestionLog, QuestionRecord, export_records

WRITERS = 8
ROWS_EACH = 40


def feedback(i: int, **changes: object) -> Feedback:
    base: dict[str, object] = {
        "ask_id": f"ask{i:08d}",
        "rating": "up" if i % 2 else "down",
        "question": f"问题 {i}",
        "quote_ids": (f"doc-p{i}",),
        "found": True,
        "latency_ms": 12.5,
    }
    base.update(changes)
    return Feedback(**base)  # type: ignore[arg-type]


def test_store_uses_wal_and_creates_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "fb.sqlite3"
    FeedbackStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_feedback_is_stored_verbatim_and_updated_by_ask_id(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    nasty = '\'); DROP TABLE feedback; -- <script>alert(1)</script> "quoted" 🎉'
    first = store.record_feedback(feedback(1, question=nasty, comment=nasty))
    second = store.record_feedback(feedback(1, question=nasty, rating="down", comment="改了主意"))
    assert first == second
    rows = store.feedback()
    assert len(rows) == 1
    row = rows[0]
    assert row["question"] == nasty
    assert row["rating"] == "down" and row["comment"] == "改了主意"
    assert row["quote_ids"] == ["doc-p1"] and row["found"] is True
    assert row["updated_at"] >= row["created_at"]
    assert store.counts() == {"feedback": 1, "questions": 0}


def _write_many(path: str, writer: int) -> None:
    store = FeedbackStore(Path(path))
    for n in range(ROWS_EACH):
        i = writer * 1000 + n
        store.record_feedback(feedback(i))
        store.log_questions([QuestionRecord(ask_id=f"q{i}", question=f"问题 {i}", found=bool(n % 2))])


def test_eight_concurrent_writer_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite3"
    FeedbackStore(path)
    ctx = multiprocessing.get_context("spawn")  # real separate processes, like server workers
    procs = [ctx.Process(target=_write_many, args=(str(path), w)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = FeedbackStore(path)
    assert store.counts() == {"feedback": WRITERS * ROWS_EACH, "questions": WRITERS * ROWS_EACH}
    assert len({r["ask_id"] for r in store.feedback()}) == WRITERS * ROWS_EACH
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_eight_concurrent_writer_threads_lose_nothing(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            for n in range(ROWS_EACH):
                store.record_feedback(feedback(writer * 1000 + n))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.counts()["feedback"] == WRITERS * ROWS_EACH


def test_question_log_writes_everything_on_close(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    qlog = QuestionLog(store, batch=7)
    qlog.start()
    for i in range(100):
        qlog.submit(QuestionRecord(ask_id=f"a{i}", question=f"q{i}", quote_ids=("p1", "p2"), cached=i % 3 == 0))
    qlog.close()
    rows = store.questions()
    assert [r["ask_id"] for r in rows] == [f"a{i}" for i in range(100)]
    assert rows[0]["quote_ids"] == ["p1", "p2"] and rows[0]["cached"] is True


def test_question_log_drops_rather_than_blocks_when_full(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    qlog = QuestionLog(store, max_queue=5)  # not started: nothing drains the queue
    for i in range(8):
        qlog.submit(QuestionRecord(ask_id=f"a{i}", question="q"))
    assert qlog.dropped == 3


def test_export_records_turn_feedback_into_eval_candidates(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.record_feedback(feedback(1, quote_ids=("doc-p6", "doc-p4"), resolved_question="张冬 客户规模"))
    store.record_feedback(feedback(2, comment="引错了人"))
    store.log_questions([QuestionRecord(ask_id="x1", question="问")])
    records = list(export_records(store, include_questions=True))
    up, down, question = records
    assert up["kind"] == "feedback" and up["rating"] == "up"
    assert up["expect"] == {"found": True, "paragraph_ids": ["doc-p6", "doc-p4"]}
    assert up["resolved_question"] == "张冬 客户规模"
    assert down["needs_review"] is True and down["comment"] == "引错了人" and "expect" not in down
    assert question["kind"] == "question" and question["ask_id"] == "x1"
    assert [r["rating"] for r in export_records(store, rating="down")] == ["down"]
    assert list(export_records(store, since="2999-01-01")) == []


@pytest.fixture()
def filled_db(tmp_path: Path) -> Path:
    path = tmp_path / "fb.sqlite3"
    store = FeedbackStore(path)
    for i in range(3):
        store.record_feedback(feedback(i, question=f"第{i}个问题"))
    store.log_questions([QuestionRecord(ask_id="z", question="logged")])
    return path


def test_rag_feedback_export_writes_jsonl(filled_db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out.jsonl"
    result = runner.invoke(rag_cli, ["feedback", "export", "-o", str(out)], env={"RAG_FEEDBACK_DB": str(filled_db)})
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["question"] for r in lines] == ["第0个问题", "第1个问题", "第2个问题"]
    assert "Exported 3 record(s)" in result.output

    stdout = runner.invoke(rag_cli, ["feedback", "export", "--questions", "--rating", "up", "--db", str(filled_db)])
    assert stdout.exit_code == 0
    kinds = [json.loads(line)["kind"] for line in stdout.stdout.splitlines()]
    assert kinds == ["feedback", "question"]


def test_rag_feedback_export_without_a_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(rag_cli, ["feedback", "export", "--db", str(tmp_path / "none.sqlite3")])
    assert result.exit_code == 0
    assert "No feedback database" in result.output
    assert not (tmp_path / "none.sqlite3").exists()


def test_the_feedback_request_carries_exactly_the_feedback_record_fields() -> None:
    from dataclasses import fields

    from app.schemas import FeedbackRequest
    from rag.feedback import Feedback

    assert set(FeedbackRequest.model_fields) == {f.name for f in fields(Feedback)}
