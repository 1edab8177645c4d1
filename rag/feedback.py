"""Feedback and the question log: one SQLite file (WAL), parameterised SQL only, safe across threads and workers.

Each operation opens its own short-lived connection, so any thread of any worker process may call it;
SQLite's WAL mode lets readers run beside the one writer and `busy_timeout` makes concurrent writers
queue instead of failing. Feedback is written synchronously (the person who clicked expects it kept);
the question log is written by a background thread in batches so it never slows an answer down.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rag.vocabulary import Rating

log = logging.getLogger("rag.feedback")

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    ask_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    resolved_question TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL DEFAULT '',
    found INTEGER,
    quote_ids TEXT NOT NULL DEFAULT '[]',
    speaker TEXT,
    document TEXT,
    language TEXT NOT NULL DEFAULT '',
    latency_ms REAL,
    server_ms REAL,
    generation TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    ask_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    resolved_question TEXT NOT NULL DEFAULT '',
    history_turns INTEGER NOT NULL DEFAULT 0,
    speaker TEXT,
    document TEXT,
    top_k INTEGER,
    mode TEXT,
    found INTEGER,
    intent TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    quote_ids TEXT NOT NULL DEFAULT '[]',
    latency_ms REAL,
    cached INTEGER NOT NULL DEFAULT 0,
    generation TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS questions_ask_id ON questions (ask_id);
CREATE INDEX IF NOT EXISTS questions_created_at ON questions (created_at);
"""


FORGET_EVERY_S = 3600.0  # how often the question log deletes questions past their retention period


def utc_now() -> str:
    """An ISO-8601 UTC timestamp with milliseconds, e.g. 2026-11-25T21:30:00.123Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Feedback:
    """A 👍/👎 on one answer, with what is needed to turn it into an evaluation question."""

    ask_id: str
    rating: Rating
    question: str
    comment: str = ""
    resolved_question: str = ""
    answer: str = ""
    found: bool | None = None
    quote_ids: tuple[str, ...] = ()
    speaker: str | None = None
    document: str | None = None
    language: str = ""
    latency_ms: float | None = None
    server_ms: float | None = None
    generation: str = ""


@dataclass(frozen=True)
class QuestionRecord:
    """One answered question, as the question log keeps it."""

    ask_id: str
    question: str
    resolved_question: str = ""
    history_turns: int = 0
    speaker: str | None = None
    document: str | None = None
    top_k: int | None = None
    mode: str | None = None
    found: bool | None = None
    intent: str = ""
    language: str = ""
    quote_ids: tuple[str, ...] = ()
    latency_ms: float | None = None
    cached: bool = False
    generation: str = ""
    created_at: str = field(default_factory=utc_now)


class FeedbackFull(Exception):
    """The feedback table holds `max_feedback_rows` rows: new answers' feedback is refused, updates still kept."""


class FeedbackStore:
    """The SQLite file at `path`: feedback (one row per answer, updated in place) and the question log.

    Its size is bounded: at most `max_feedback_rows` feedback rows (feedback on further answers is refused,
    so nothing a person gave is deleted) and `max_logged_questions` logged questions (the oldest go first).
    """

    def __init__(self, path: Path, max_feedback_rows: int = 0, max_logged_questions: int = 0) -> None:
        self.max_feedback_rows = max_feedback_rows  # 0: no cap
        self.max_logged_questions = max_logged_questions
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode; `with self._transaction()` groups writes."""
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead of
            # deadlocking on a read-to-write upgrade.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ------------------------------------------------------------ feedback

    def record_feedback(self, fb: Feedback) -> int:
        """Store feedback for an answer; a second call for the same ask_id updates it. Returns the row id."""
        now = utc_now()
        values = {
            "ask_id": fb.ask_id,
            "created_at": now,
            "updated_at": now,
            "rating": fb.rating,
            "comment": fb.comment,
            "question": fb.question,
            "resolved_question": fb.resolved_question,
            "answer": fb.answer,
            "found": None if fb.found is None else int(fb.found),
            "quote_ids": json.dumps(list(fb.quote_ids), ensure_ascii=False),
            "speaker": fb.speaker,
            "document": fb.document,
            "language": fb.language,
            "latency_ms": fb.latency_ms,
            "server_ms": fb.server_ms,
            "generation": fb.generation,
        }
        columns = ", ".join(values)
        params = ", ".join(f":{k}" for k in values)
        updates = ", ".join(f"{k} = excluded.{k}" for k in values if k not in ("ask_id", "created_at"))
        sql = (
            f"INSERT INTO feedback ({columns}) VALUES ({params}) "
            f"ON CONFLICT (ask_id) DO UPDATE SET {updates} RETURNING id"
        )
        with self._transaction() as conn:
            if self.max_feedback_rows and self._full(conn, fb.ask_id):
                raise FeedbackFull(f"the feedback table holds its {self.max_feedback_rows} rows")
            row = conn.execute(sql, values).fetchone()
        return int(row[0])

    def _full(self, conn: sqlite3.Connection, ask_id: str) -> bool:
        """True when a row for a new `ask_id` would go over max_feedback_rows."""
        if conn.execute("SELECT 1 FROM feedback WHERE ask_id = ?", (ask_id,)).fetchone():
            return False
        return int(conn.execute("SELECT count(*) FROM feedback").fetchone()[0]) >= self.max_feedback_rows

    def feedback(self, since: str | None = None, rating: Rating | None = None) -> list[dict[str, Any]]:
        """Feedback rows, oldest first, optionally only those updated at or after `since` or of one rating."""
        sql = "SELECT * FROM feedback WHERE (:since IS NULL OR updated_at >= :since)"
        sql += " AND (:rating IS NULL OR rating = :rating) ORDER BY id"
        return self._rows(sql, {"since": since, "rating": rating})

    # ------------------------------------------------------------ the question log

    def log_questions(self, records: list[QuestionRecord]) -> None:
        """Append answered questions to the log in one transaction."""
        if not records:
            return
        rows = []
        for r in records:
            row = asdict(r)
            row["found"] = None if r.found is None else int(r.found)
            row["cached"] = int(r.cached)
            row["quote_ids"] = json.dumps(list(r.quote_ids), ensure_ascii=False)
            rows.append(row)
        columns = list(rows[0])
        sql = f"INSERT INTO questions ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
        with self._transaction() as conn:
            conn.executemany(sql, rows)
            if self.max_logged_questions:
                conn.execute(
                    "DELETE FROM questions WHERE id <= (SELECT max(id) FROM questions) - ?",
                    (self.max_logged_questions,),
                )

    def answered(self, ask_id: str) -> dict[str, Any] | None:
        """The logged answer `ask_id` names (the server's record of it), or None when it was not logged."""
        rows = self._rows("SELECT * FROM questions WHERE ask_id = :ask_id ORDER BY id DESC LIMIT 1", {"ask_id": ask_id})
        return rows[0] if rows else None

    def forget_questions(self, older_than_days: float) -> int:
        """Delete logged questions older than the retention period; returns how many went."""
        cutoff = (datetime.now(UTC) - timedelta(days=older_than_days)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self._transaction() as conn:
            return int(conn.execute("DELETE FROM questions WHERE created_at < ?", (cutoff,)).rowcount)

    def questions(self, since: str | None = None) -> list[dict[str, Any]]:
        """Logged questions, oldest first."""
        sql = "SELECT * FROM questions WHERE (:since IS NULL OR created_at >= :since) ORDER BY id"
        return self._rows(sql, {"since": since})

    def counts(self) -> dict[str, int]:
        with self._connect() as conn:
            fb = conn.execute("SELECT count(*) FROM feedback").fetchone()[0]
            qs = conn.execute("SELECT count(*) FROM questions").fetchone()[0]
        return {"feedback": int(fb), "questions": int(qs)}

    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            with closing(conn.execute(sql, params)) as cur:
                rows = [dict(r) for r in cur.fetchall()]
        for r in rows:
            r["quote_ids"] = json.loads(r.get("quote_ids") or "[]")
            if r.get("found") is not None:
                r["found"] = bool(r["found"])
            if "cached" in r:
                r["cached"] = bool(r["cached"])
        return rows


class QuestionLog:
    """Writes question records from a background thread in batches; `submit` never blocks a request.

    A write waits `linger` seconds after the first record of its batch (unless `flush` or `close` asks for it
    now): a write the moment a record comes in would compete for the interpreter lock and the cores with the
    answer that submitted it while its response is still being sent (+1.2 ms for POST /ask p50 on 2 busy cores,
    several ms at p90; bench/RESULTS.md), and records arriving together share one transaction.
    """

    def __init__(
        self,
        store: FeedbackStore,
        max_queue: int = 10_000,
        batch: int = 200,
        retention_days: float = 0,
        linger: float = 0.05,
    ) -> None:
        self.store = store
        self.batch = batch
        self.linger = linger
        self._hurry = threading.Event()  # set by flush and close: write what is queued without lingering
        self.retention_days = retention_days  # 0: keep questions until deleted by hand
        self._next_forget = 0.0
        self._queue: queue.Queue[QuestionRecord | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self._pending = 0  # submitted, not yet written (or failed)
        self._written = threading.Condition()

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="rag-question-log", daemon=True)
            self._thread.start()

    def submit(self, record: QuestionRecord) -> None:
        try:
            with self._written:
                self._queue.put_nowait(record)
                self._pending += 1
        except queue.Full:
            # Under a flood the log gives way, never the answers.
            self.dropped += 1
            if self.dropped in (1, 100) or self.dropped % 10_000 == 0:
                log.warning("question log queue full: %d question(s) not logged", self.dropped)

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every record submitted so far is written; False if that took longer than `timeout`."""
        self._hurry.set()
        with self._written:
            return self._written.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            self._hurry.set()
            try:
                self._queue.put(None, timeout=0.1)
                break
            except queue.Full:
                if time.monotonic() > deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))
        self._thread = None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            records: list[QuestionRecord] = []
            if item is None:
                stopping = True
            else:
                records.append(item)
                if self._hurry.wait(self.linger):  # let the answer that submitted it be sent first
                    self._hurry.clear()
            while len(records) < self.batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                records.append(more)
            try:
                self.store.log_questions(records)
            except (sqlite3.Error, OSError):
                log.exception("could not write %d question(s) to the log", len(records))
            with self._written:
                self._pending -= len(records)
                self._written.notify_all()
            self._forget_old()

    def _forget_old(self) -> None:
        """At most once an hour, delete questions past the retention period (RAG_QUESTION_RETENTION_DAYS)."""
        if self.retention_days <= 0 or time.monotonic() < self._next_forget:
            return
        self._next_forget = time.monotonic() + FORGET_EVERY_S
        try:
            gone = self.store.forget_questions(self.retention_days)
        except (sqlite3.Error, OSError):
            log.exception("could not delete questions older than %s day(s)", self.retention_days)
            return
        if gone:
            log.info("deleted %d logged question(s) older than %s day(s)", gone, self.retention_days)


def export_records(
    store: FeedbackStore, *, include_questions: bool = False, since: str | None = None, rating: Rating | None = None
) -> Iterator[dict[str, Any]]:
    """JSONL-ready records: feedback first (each a candidate eval question), then logged questions if asked.

    A 👍 confirms that the quoted paragraphs answer the question (or that "not found" was right), so it
    carries `expect`; a 👎 carries `needs_review` and the comment that says what was wrong.
    """
    for row in store.feedback(since=since, rating=rating):
        question = row["question"]
        standalone = row["resolved_question"] or question
        record: dict[str, Any] = {
            "kind": "feedback",
            "id": row["id"],
            "ask_id": row["ask_id"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "rating": row["rating"],
            "comment": row["comment"],
            "question": question,
            "resolved_question": standalone,
            "speaker": row["speaker"],
            "document": row["document"],
            "language": row["language"],
            "found": row["found"],
            "quote_ids": row["quote_ids"],
            "answer": row["answer"],
            "latency_ms": row["latency_ms"],
            "server_ms": row["server_ms"],
            "generation": row["generation"],
        }
        if row["rating"] == "up":
            record["expect"] = {"found": row["found"], "paragraph_ids": row["quote_ids"]}
        else:
            record["needs_review"] = True
        yield record
    if include_questions:
        for row in store.questions(since=since):
            yield {"kind": "question", **row}
