"""The evaluator's workflow: per-document rows, `rag eval --compare` by type and document, and
`rag eval --from-feedback` turning exported 👎 feedback into candidate questions to label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag import Index, Settings, ask, load_corpus
from rag.cli import main
from rag.eval.gold import QuestionSetError, load_questions
from rag.feedback import Feedback, FeedbackStore

ROOT = Path(__file__).resolve().parent.parent
PAGE_QUESTIONS = ROOT / "eval" / "questions.jsonl"


def cli(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(
        main,
        ["--corpus-dir", str(settings.corpus_dir), "--index-dir", str(settings.index_dir), *args],
        env={"RAG_FEEDBACK_DB": str(settings.feedback_db)},
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.fixture(scope="module")
def small_run(settings: Settings, built: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Three factual questions and two unanswerable ones, hybrid, through the library (quick)."""
    rows = [json.loads(line) for line in PAGE_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    picked = [r for r in rows if r["type"] == "factual"][:3] + [r for r in rows if r["type"] == "unanswerable"][:2]
    work = tmp_path_factory.mktemp("workflow")
    subset = work / "subset.jsonl"
    subset.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in picked), encoding="utf-8")
    out = work / "out"
    output = cli(
        settings, "eval", "--questions", str(subset), "--out", str(out), "--mode", "hybrid", "--via", "library"
    )
    return out, output


def test_results_and_report_have_a_row_per_document(small_run: tuple[Path, str]) -> None:
    out, output = small_run
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    by_document = data["summary"]["by_document"]["hybrid"]
    assert set(by_document) == {"wenhua-keji-zuotanhui", "(no gold paragraph)"}
    assert by_document["wenhua-keji-zuotanhui"]["all"]["n"] == 3
    assert by_document["(no gold paragraph)"]["all"]["n"] == 2
    assert {q["document"] for q in data["questions"] if q["type"] == "factual"} == {"wenhua-keji-zuotanhui"}
    assert "By document" in output and "wenhua-keji-zuotanhui" in output
    assert "By document — hybrid" in (out / "report.html").read_text(encoding="utf-8")


def test_compare_shows_regressions_per_type_and_document(small_run: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = small_run
    before = json.loads((out / "results.json").read_text(encoding="utf-8"))
    after = json.loads(json.dumps(before))
    for row in after["questions"]:  # every factual question now fails
        if row["type"] == "factual":
            row["results"]["hybrid"].update(passed=False, reason="made worse on purpose")
    b = tmp_path / "b.json"
    b.write_text(json.dumps(after, ensure_ascii=False), encoding="utf-8")
    a = out / "results.json"

    text = CliRunner().invoke(main, ["eval", "--compare", str(a), str(b)]).output
    assert "Regressions by type and document: 2" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip() and "hybrid" in line.split()[1:2]}
    assert "REGRESSION" in lines["factual"] and "REGRESSION" in lines["wenhua-keji-zuotanhui"]
    assert "REGRESSION" not in lines["unanswerable"]

    data = json.loads(CliRunner().invoke(main, ["eval", "--compare", str(a), str(b), "--json"]).output)
    regressed = {(s["by"], s["key"]) for s in data["slices"] if s["regression"]}
    assert regressed == {("type", "factual"), ("document", "wenhua-keji-zuotanhui")}
    assert {q["kind"] for q in data["questions"]} <= {"broken"}

    same = CliRunner().invoke(main, ["eval", "--compare", str(a), str(a)]).output
    assert "Regressions by type and document: 0" in same and "No question changed" in same


def test_from_feedback_makes_candidates_to_label(settings: Settings, index: Index, tmp_path: Path) -> None:
    db = tmp_path / "fb.sqlite3"
    store = FeedbackStore(db)
    asked = ask(index, "谁谈到了人才培养？", settings)
    assert asked.quotes
    quote_ids = tuple(q.paragraph_id for q in asked.quotes)
    store.record_feedback(
        Feedback("a1", "down", asked.question, comment="漏了刘庆峰", answer=asked.answer, found=True,
                 quote_ids=quote_ids, language="zh")
    )  # fmt: skip
    store.record_feedback(Feedback("a2", "down", asked.question, comment="顺序不对", quote_ids=quote_ids))
    store.record_feedback(Feedback("a3", "up", "中国移动客户规模？", quote_ids=("wenhua-keji-zuotanhui-p6",)))
    exported = tmp_path / "down.jsonl"
    CliRunner().invoke(main, ["feedback", "export", "--db", str(db), "-o", str(exported)])

    output = cli(settings, "eval", "--from-feedback", str(exported), "--out", str(tmp_path / "labels"))
    assert "Wrote 1 candidate question(s)" in output
    lines = (tmp_path / "labels" / "candidates.jsonl").read_text(encoding="utf-8").splitlines()
    [candidate] = [json.loads(line) for line in lines]
    assert candidate["question"] == asked.question and candidate["needs_label"] is True
    assert candidate["feedback"]["comments"] == ["漏了刘庆峰", "顺序不对"]
    paragraphs = {c.id: c for d in load_corpus(settings.corpus_dir) for c in d.chunks}
    shown = candidate["shown"]["quotes"]
    assert [s["paragraph_id"] for s in shown] == list(quote_ids)
    assert all(s["text"] == paragraphs[s["paragraph_id"]].text for s in shown)  # what the evaluator reads
    assert set(candidate) >= {"id", "question", "language", "type", "gold_speakers", "gold_paragraphs", "split"}
    with pytest.raises(QuestionSetError, match="not labelled yet"):
        load_questions(tmp_path / "labels" / "candidates.jsonl")


def test_from_feedback_refuses_a_file_that_is_not_an_export(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("this is not json\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "--from-feedback", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 1 and "bad.jsonl:1: not JSON" in result.output
