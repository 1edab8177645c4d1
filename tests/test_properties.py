"""Property-based tests: the HTTP API against its own OpenAPI schema (schemathesis), the parsers and the answer
stage against arbitrary Unicode (hypothesis). Nothing crashes; every quote stays verbatim and correctly attributed.

Example counts are modest: each question the answer stage sees is embedded by the real model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from support.embedder import FakeEmbedder

from app.main import create_app
from rag import CorpusError, HistoryTurn, Index, QuestionError, Settings, ask, build_index, load_index
from rag.corpus import build_document, paragraph_from_source
from rag.records import Answer
from rag.service import Service
from rag.verify import answer_text_problem, quote_problem

# Characters that break naive text handling: bidi overrides and isolates, zero-width characters, the BOM,
# C0/C1 controls, every character str.splitlines() treats as a line break, emoji (astral, joined, flags),
# CJK extension B, full-width brackets and the punctuation the parsers and the sentence splitter look at.
NASTY = [
    *"\u202e\u202d\u202a\u202b\u202c\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
    *"\u200b\u200c\u200d\u2060\ufeff\u00ad",
    *"\x00\x01\x07\x08\x1b\x7f\x80\x9b",
    *"\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
    "🎉",
    "👨\u200d👩\u200d👧",
    "🇨🇳",
    "\U00020000",
    "\U0010ffff",
    *"（）()【】[]#：:。？！?!，、；…—“”\"'`*_<>&\\/",
    "\u0301",
]
WORDS = ["马栏山", "人才", "中国移动", "张平安", "他", "客户规模", "Huawei", "talent", "谁", "哪些企业家", "还说了什么"]


def unicode_text(max_size: int, *, surrogates: bool = False, words: bool = False) -> st.SearchStrategy[str]:
    """Arbitrary text weighted towards the characters above (and corpus words, so some questions find answers)."""
    chars = st.characters(exclude_categories=() if surrogates else ("Cs",))
    parts: list[st.SearchStrategy[str]] = [chars, st.sampled_from(NASTY)]
    if words:
        parts.append(st.sampled_from(WORDS))
    return st.lists(st.one_of(*parts), max_size=max_size).map("".join)


LONG_LINE = st.integers(200, 3000).map(lambda n: "很长的一行没有换行" * (n // 9) + "。")
ONLY_PUNCTUATION = st.lists(
    st.sampled_from(list("。？！，、；：…—“”?!.,;:()（）【】《》")), min_size=1, max_size=50
).map("".join)


# ---------------------------------------------------------------- the HTTP API against its schema

# 413 is the documented answer to a body over 64 KB, which the schema cannot express (history may hold
# 20 answers of 20 000 characters). A 422 for schema-valid input is allowed only where the API documents
# one: a speaker or document filter naming nothing in the index (checked below).
SCHEMA_CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "409", "413", "422"]},
            "negative_data_rejection": {"expected-statuses": ["400", "401", "404", "405", "413", "422"]},
        }
    }
)


@pytest.fixture(scope="module")
def api_schema(settings: Settings, index: Index, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The app over the real index, admin endpoints enabled (with a token the generated requests do not know)."""
    local = settings.model_copy(
        update={"feedback_db": tmp_path_factory.mktemp("schema") / "fb.sqlite3", "admin_token": "not-sent-by-tests"}
    )
    app = create_app(local, service=Service(local, index=index))
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=SCHEMA_CONFIG)


OPERATIONS = [
    "POST /ask",
    "GET /speakers",
    "GET /speeches/{key}",
    "GET /glosses",
    "GET /healthz",
    "GET /readyz",
    "POST /feedback",
    "POST /documents",
    "DELETE /documents/{document_id}",
]


def refusals_of_valid_requests_name_the_known_values(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schema-valid request refused with 422 names what would have been accepted (speakers, documents)."""
    if response.status_code != 422 or case.meta is None or case.meta.generation.mode.is_negative:
        return None
    body = json.loads(response.content)
    if str(body.get("detail", "")).startswith("Unknown ask_id"):
        return True  # feedback takes only ask ids the server issued (documented on POST /feedback)
    assert "known_speakers" in body or "known_documents" in body, f"schema-valid request refused: {body}"
    return True


def no_internals_in_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """No error response carries a stack trace or a server path."""
    if response.status_code < 400:
        return None
    text = response.content.decode("utf-8", "replace")
    assert "Traceback" not in text and "/site-packages/" not in text and ".py" not in text, text[:300]
    return True


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert sorted(f"{op.method.upper()} {op.path}" for op in operations) == sorted(OPERATIONS)


@pytest.mark.slow
@pytest.mark.parametrize("label", OPERATIONS)
def test_the_api_keeps_its_schema_and_never_fails(api_schema: Any, label: str) -> None:
    """Valid and invalid requests: no 5xx, no response outside the schema, no valid request refused unexplained."""
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(cases)
    def run(case: Any) -> None:
        case.call_and_validate(
            additional_checks=[refusals_of_valid_requests_name_the_known_values, no_internals_in_errors]
        )

    run()


# ---------------------------------------------------------------- the parsers

SUFFIXES = st.sampled_from(["doc.txt", "doc.md", "doc.jsonl"])


def check_parsed(name: str, data: bytes) -> None:
    """Either a clear CorpusError, or paragraphs each rebuilt exactly from their source lines."""
    try:
        document = build_document(Path(name), data)
    except CorpusError as exc:
        assert str(exc).startswith(name), exc  # names the file
        return
    assert any(c.kind == "speech" for c in document.chunks)
    for c in document.chunks:
        assert c.text and c.speaker
        assert paragraph_from_source(document.source_text, c.lines) == c.text
        assert c.id == f"{document.info.slug}-p{c.number}"


@settings(max_examples=300, deadline=None)
@given(SUFFIXES, unicode_text(200, surrogates=True))
def test_any_text_in_any_format_parses_or_is_refused_clearly(name: str, text: str) -> None:
    check_parsed(name, text.encode("utf-8", "surrogatepass"))  # lone surrogates become invalid UTF-8


@settings(max_examples=150, deadline=None)
@given(SUFFIXES, st.binary(max_size=400))
def test_any_bytes_parse_or_are_refused_clearly(name: str, data: bytes) -> None:
    check_parsed(name, data)


def markdown_document(name: str, title: str, paragraphs: list[str]) -> str:
    body = "\n\n".join(paragraphs)
    return f"# 标题{title}\n\n## {name}（总经理，某某公司）\n\n### 小标题\n\n{body}\n"


def zhaideng_document(name: str, title: str, paragraphs: list[str]) -> str:
    body = "\n\n".join(paragraphs)
    return f"座谈会{title}\n\n——发言摘登\n\n{name}（湖南省文化馆馆长）\n\n{body}\n"


def jsonl_document(name: str, title: str, paragraphs: list[str]) -> str:
    records = [{"document": {"title": "标题" + title}}]
    records += [{"speaker": name, "title": "馆长", "organization": "文化馆", "text": p} for p in paragraphs]
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"


DOCUMENT_SHAPES = {"doc.md": markdown_document, "doc.txt": zhaideng_document, "doc.jsonl": jsonl_document}
SPEAKER_NAMES = st.sampled_from(["张三", "欧阳 娜娜", "Zhang San", "阿卜杜·热合曼"])
PARAGRAPH = st.one_of(unicode_text(120), LONG_LINE, ONLY_PUNCTUATION, unicode_text(60).map(lambda t: "文化" + t + "。"))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(DOCUMENT_SHAPES)),
    SPEAKER_NAMES,
    unicode_text(30),
    st.lists(PARAGRAPH, min_size=1, max_size=5),
)
def test_well_formed_documents_with_arbitrary_paragraphs(
    name: str, speaker: str, title: str, paragraphs: list[str]
) -> None:
    check_parsed(name, DOCUMENT_SHAPES[name](speaker, title, paragraphs).encode("utf-8"))


# ---------------------------------------------------------------- the answer stage


def check_answer(index: Index, answer: Answer) -> None:
    """Every quote (and closest passage) verbatim and correctly attributed; the answer's own text honest."""
    for quote in (*answer.quotes, *answer.closest):
        assert quote_problem(index, quote) is None, (quote_problem(index, quote), quote.paragraph_id)
    assert answer.found == bool(answer.quotes)
    if answer.found:
        assert answer_text_problem(answer.answer, answer.quotes) is None
    known = {s.name for s in index.registry.speakers}
    assert set(answer.speakers) <= known
    json.dumps(answer.to_json(), ensure_ascii=False).encode("utf-8")  # serialisable as the API sends it


TURN = st.builds(
    HistoryTurn,
    question=unicode_text(40, words=True),
    answer=st.one_of(st.none(), unicode_text(80, words=True)),
    speakers=st.lists(st.sampled_from(["张平安", "张冬", "马云", "", "\u202e张冬"]), max_size=3).map(tuple),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    question=st.one_of(unicode_text(60, words=True), LONG_LINE, ONLY_PUNCTUATION),
    history=st.lists(TURN, max_size=2),
    top_k=st.integers(1, 20),
    mode=st.sampled_from(["hybrid", "dense", "bm25"]),
)
def test_any_question_gets_verbatim_attributed_quotes_or_a_clear_refusal(
    index: Index, settings: Settings, question: str, history: list[HistoryTurn], top_k: int, mode: str
) -> None:
    try:
        answer = ask(index, question, settings, top_k=top_k, mode=mode, history=history)  # type: ignore[arg-type]
    except QuestionError as exc:
        assert str(exc)  # a sentence the person can act on
        return
    check_answer(index, answer)


def test_a_question_with_a_lone_surrogate_is_refused_clearly(index: Index, settings: Settings) -> None:
    with pytest.raises(QuestionError):
        ask(index, "\ud800马栏山", settings)


@pytest.mark.parametrize("question", ["？？？！！！。。。", "\u200b\u200c\u200d", "\ufeff", "……"])
def test_a_question_without_words_is_not_answered(index: Index, settings: Settings, question: str) -> None:
    try:
        answer = ask(index, question, settings)
    except QuestionError:
        return
    assert not answer.found, [q.text for q in answer.quotes]


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.sampled_from(sorted(DOCUMENT_SHAPES)),
    speaker=SPEAKER_NAMES,
    paragraphs=st.lists(unicode_text(60).map(lambda t: "文化" + t + "。"), min_size=1, max_size=4),
    pick=st.integers(0, 3),
)
def test_quotes_from_documents_full_of_odd_characters_stay_verbatim(
    tmp_path_factory: pytest.TempPathFactory, shape: str, speaker: str, paragraphs: list[str], pick: int
) -> None:
    """A document of arbitrary Unicode indexed and asked about its own words: quotes verbatim, attributed to it."""
    root = tmp_path_factory.mktemp("odd")
    (root / "corpus").mkdir()
    data = DOCUMENT_SHAPES[shape](speaker, "", paragraphs).encode("utf-8")
    try:
        build_document(Path(shape), data)
    except CorpusError:
        assume(False)
    (root / "corpus" / shape).write_bytes(data)
    local = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(local, FakeEmbedder())
    index = load_index(local, FakeEmbedder())
    chunk = index.chunks[pick % len(index.chunks)]
    for question in (chunk.text[:30], chunk.text[-30:] + "？"):
        try:
            answer = ask(index, question, local)
        except QuestionError:
            continue
        check_answer(index, answer)
        assert all(q.speaker == chunk.speaker for q in answer.quotes if q.kind == "speech")
