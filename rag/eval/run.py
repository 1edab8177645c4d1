"""One evaluation run: the gold checked against the corpus, every question asked in every mode, graded."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rag.corpus import META_SUFFIX, corpus_files, load_corpus
from rag.eval.client import IndexRetriever, in_process_client, remote_client
from rag.eval.gold import (
    CorpusParagraph,
    GoldQuestion,
    QuestionSetError,
    corpus_paragraphs,
    gold_problems,
    load_questions,
    resolve_spans,
)
from rag.eval.grading import AskClient, EvalRun, K, Retriever, RunInfo, file_sha256, run_questions
from rag.eval.results import run_to_json
from rag.index import Index
from rag.settings import Settings

DEFAULT_QUESTIONS = Path("eval/questions.jsonl")
REPO_QUESTIONS = Path(__file__).resolve().parents[2] / DEFAULT_QUESTIONS
DEFAULT_OUT = Path("eval/out")


@dataclass(frozen=True)
class Part:
    """A question set and the documents it asks about beyond the configured corpus (None: that corpus alone)."""

    name: str
    questions: Path
    documents: Path | None = None


# `rag eval` runs both: the first page on its own, and the documents of every format beside it.
PARTS = (
    Part("page", Path("eval/questions.jsonl")),
    Part("documents", Path("eval/documents.jsonl"), Path("eval/documents")),
)


def in_repository(path: Path) -> Path:
    """A default path under the working directory, else the same path beside this checkout's package."""
    if path.exists():
        return path
    beside = Path(__file__).resolve().parents[2] / path
    if beside.exists():
        return beside
    raise QuestionSetError(f"no {path} here; pass --questions FILE")


def with_documents(settings: Settings, documents: Path, work: Path) -> Settings:
    """Settings for the configured corpus plus the documents in `documents`, with an index folder of their own."""
    corpus = work / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    for source in (*corpus_files(settings.corpus_dir), *corpus_files(documents)):
        shutil.copy2(source, corpus / source.name)
        meta = source.with_name(source.name.split(".")[0] + META_SUFFIX)
        if meta.exists():
            shutil.copy2(meta, corpus / meta.name)
    return settings.model_copy(update={"corpus_dir": corpus, "index_dir": work / "index"})


def default_questions() -> Path:
    """eval/questions.jsonl under the working directory, else the one beside this checkout's package."""
    if DEFAULT_QUESTIONS.is_file():
        return DEFAULT_QUESTIONS
    if REPO_QUESTIONS.is_file():
        return REPO_QUESTIONS
    raise QuestionSetError(f"no {DEFAULT_QUESTIONS} here; pass --questions FILE")


def load_gold(
    settings: Settings, questions_file: Path, split: str
) -> tuple[list[GoldQuestion], dict[str, CorpusParagraph]]:
    """The questions of a split and the corpus paragraphs, refused when the gold does not match the corpus."""
    questions = load_questions(questions_file)
    if split != "all":
        questions = [q for q in questions if q.split == split]
    if not questions:
        raise QuestionSetError(f"{questions_file}: no questions to run")
    chunks = [c for d in load_corpus(settings.corpus_dir) for c in d.chunks]
    questions = resolve_spans(questions, chunks)
    paragraphs = corpus_paragraphs(chunks)
    problems = gold_problems(questions, paragraphs)
    if problems:
        raise QuestionSetError("the gold does not match the corpus:\n  " + "\n  ".join(problems[:20]))
    return questions, paragraphs


def open_client(
    stack: ExitStack, settings: Settings, url: str | None, via: str, load: Callable[[Settings], Index]
) -> tuple[AskClient, Retriever | None, str]:
    """The code path under test (a running server, or the app in-process), its retrieval stage and embedder."""
    if url:
        return stack.enter_context(remote_client(url)), None, "as configured on the server"
    index = load(settings)
    client = stack.enter_context(in_process_client(settings, index, via))
    return client, IndexRetriever(index, settings), index.embedder.id


def run_eval(
    questions: Sequence[GoldQuestion],
    paragraphs: dict[str, CorpusParagraph],
    client: AskClient,
    retriever: Retriever | None,
    modes: Sequence[str],
    headline_mode: str,
    embedder: str,
    questions_file: Path,
    progress: Callable[[int], None] | None = None,
) -> EvalRun:
    """Ask every question in every mode and grade the answers."""
    results = run_questions(questions, client, paragraphs, modes, retriever, K, progress)
    info = RunInfo(
        target=client.target,
        embedder=embedder,
        modes=tuple(modes),
        headline_mode=headline_mode if headline_mode in modes else modes[0],
        top_k=K,
        questions_file=str(questions_file),
        questions_sha256=file_sha256(questions_file),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        retrieval_stage=retriever is not None,
    )
    return EvalRun(info, tuple(results))


def write_outputs(run: EvalRun, out: Path) -> tuple[Path, Path]:
    from rag.eval.report import render_report

    out.mkdir(parents=True, exist_ok=True)
    results_path, report_path = out / "results.json", out / "report.html"
    data = run_to_json(run)
    results_path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    report_path.write_text(render_report(run), encoding="utf-8")
    return results_path, report_path
