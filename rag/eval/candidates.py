"""`rag eval --from-feedback`: exported 👎 feedback as candidate eval questions for an evaluator to label.

Each candidate is a line in the eval set's format with its gold left empty and `needs_label: true` (the loader
refuses it until it is labelled), carrying what the evaluator needs to label it: the question as answered (a
follow-up already resolved), the quotes that were shown (their paragraphs' text from the current corpus), and
the comment. Questions asked several times become one candidate with every comment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rag.eval.gold import LANGUAGES, CorpusParagraph, QuestionSetError, split_for

NOT_IN_CORPUS = "(this paragraph is no longer in the corpus)"


def read_feedback(path: Path) -> list[dict[str, Any]]:
    """The records of a `rag feedback export` file; a line that is not a JSON object is refused by number."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise QuestionSetError(
                f"{path}:{number}: not JSON ({exc.args[0]}); is it a `rag feedback export`?"
            ) from None
        if not isinstance(record, dict):
            raise QuestionSetError(f"{path}:{number}: a record must be a JSON object")
        records.append(record)
    return records


def _shown(ids: Iterable[str], paragraphs: Mapping[str, CorpusParagraph]) -> list[dict[str, str]]:
    out = []
    for pid in ids:
        p = paragraphs.get(pid)
        out.append({"paragraph_id": pid, "speaker": p.speaker if p else "", "text": p.text if p else NOT_IN_CORPUS})
    return out


def candidates_from_feedback(
    records: Iterable[Mapping[str, Any]], paragraphs: Mapping[str, CorpusParagraph]
) -> list[dict[str, Any]]:
    """One candidate per distinct 👎 question (and filters), in the order first reported."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in records:
        if r.get("kind", "feedback") != "feedback" or r.get("rating") != "down" or not r.get("question"):
            continue
        question = str(r.get("resolved_question") or r["question"])
        key = (question, str(r.get("speaker") or ""), str(r.get("document") or ""))
        comment = str(r.get("comment") or "").strip()
        if key in out:
            seen = out[key]["feedback"]
            seen["ids"].append(r.get("id"))
            if comment and comment not in seen["comments"]:
                seen["comments"].append(comment)
            continue
        language = r.get("language") if r.get("language") in LANGUAGES else "zh"
        number = r.get("id") if isinstance(r.get("id"), int) else len(out) + 1
        qid = f"feedback-{number}"
        candidate: dict[str, Any] = {
            "id": qid,
            "question": question,
            "language": language,
            "type": "",  # the evaluator chooses one of the eval set's types
            "gold_speakers": [],
            "gold_paragraphs": [],
            "split": split_for(qid),  # the eval set's rule, by the id's number
            "needs_label": True,
            "shown": {
                "found": bool(r.get("found")),
                "answer": r.get("answer") or "",
                "quotes": _shown(r.get("quote_ids") or (), paragraphs),
            },
            "feedback": {
                "ids": [r.get("id")],
                "comments": [comment] if comment else [],
                "asked": r["question"],
                "created_at": r.get("created_at"),
                "generation": r.get("generation"),
            },
        }
        if r.get("speaker"):
            candidate["speaker"] = r["speaker"]
        if r.get("document"):
            candidate["document_filter"] = r["document"]
        out[key] = candidate
    return list(out.values())


def write_candidates(candidates: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in candidates)
    path.write_text(text, encoding="utf-8")
    return path
