"""Text formats beyond 发言摘登: speeches, news reports, interviews, press conferences, in both scripts.

Each fixture in tests/fixtures/speeches (`<format>-<variant>.txt`) has a `<name>.expected.json` beside it: the
format detection must choose, the people, and for chosen paragraphs (found by a unique substring) their
section's kind, speaker and headline, and the exact attributed segments. The invariants every parsed document
keeps are checked for every fixture and for arbitrary text.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.corpus import paragraph_from_source
from rag.errors import CorpusError
from rag.parsers import TEXT_FORMATS, ParsedDocument, ParsedParagraph, ParsedSection, parse_source
from rag.parsers.detect import coverage, parse_text
from rag.script import to_simplified

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "speeches"
ALL = sorted(FIXTURES.glob("*.txt"))
OPENING = "“「"
CLOSING = "”」"


def expected(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.with_name(path.stem + ".expected.json").read_text(encoding="utf-8"))
    return data


PARSED = [p for p in ALL if not expected(p).get("refused")]
REFUSED = [p for p in ALL if expected(p).get("refused")]


def parse(path: Path, format: str | None = None) -> tuple[str, ParsedDocument]:
    return parse_source(path, path.read_bytes(), format)


def paragraphs(doc: ParsedDocument) -> list[tuple[int, ParsedSection, ParsedParagraph]]:
    return [(i, s, p) for i, s in enumerate(doc.sections) for p in s.paragraphs]


def find(doc: ParsedDocument, needle: str) -> tuple[int, ParsedSection, ParsedParagraph]:
    hits = [hit for hit in paragraphs(doc) if needle in hit[2].text]
    assert len(hits) == 1, f"{needle!r} is in {len(hits)} paragraphs"
    return hits[0]


def segments(paragraph: ParsedParagraph) -> list[dict[str, str]]:
    return [
        {"speaker": s.speaker, "attribution": s.attribution, "text": paragraph.text[s.start : s.end]}
        for s in paragraph.segments
    ]


def test_every_format_has_fixtures() -> None:
    formats = [expected(p).get("format") for p in PARSED]
    assert all(formats.count(f) >= 3 for f in ("speech", "news", "interview", "press"))
    assert REFUSED


@pytest.mark.parametrize("path", PARSED, ids=lambda p: p.stem)
def test_format_people_and_document_fields(path: Path) -> None:
    want = expected(path)
    _, doc = parse(path)
    assert doc.format == want["format"]
    for key in ("title", "subtitle", "date", "source"):
        if key in want:
            assert getattr(doc, key) == want[key], key
    people = {(p.name, p.title, p.organization) for p in doc.people}
    assert people == {(p["name"], p["title"], p["organization"]) for p in want["people"]}


@pytest.mark.parametrize("path", PARSED, ids=lambda p: p.stem)
def test_chosen_paragraphs(path: Path) -> None:
    want = expected(path)
    _, doc = parse(path)
    for case in want["paragraphs"]:
        _, section, paragraph = find(doc, case["find"])
        assert section.kind == case["kind"], case["find"]
        assert section.speaker == case.get("speaker", section.speaker), case["find"]
        assert section.headline == case.get("headline", section.headline), case["find"]
        if "lines" in case:
            assert len(paragraph.lines) == case["lines"], case["find"]
        if "segments" in case:
            assert segments(paragraph) == case["segments"], case["find"]
        if "answers" in case:
            assert section.question is not None, case["find"]
            asked = doc.sections[section.question]
            assert asked.kind == "question" and any(case["answers"] in p.text for p in asked.paragraphs)


@pytest.mark.parametrize("path", PARSED, ids=lambda p: p.stem)
def test_what_is_left_out_counted_and_findable(path: Path) -> None:
    want = expected(path)
    _, doc = parse(path)
    texts = [p.text for _, _, p in paragraphs(doc)]
    for absent in want.get("absent", []):
        assert not any(absent in t for t in texts), absent
    if "paragraph_count" in want:
        assert sum(len(s.paragraphs) for s in doc.sections if s.kind == "speech") == want["paragraph_count"]
    for note in want.get("notes", []):
        assert any(note in n for n in doc.notes), (note, doc.notes)
    answered = {s.question for s in doc.sections if s.kind == "answer"}
    for needle in want.get("unanswered", []):
        index, section, _ = find(doc, needle)
        assert section.kind == "question" and index not in answered
    for query in want.get("simplified_queries", []):
        assert any(query in to_simplified(t) for t in texts), query


@pytest.mark.parametrize("path", PARSED, ids=lambda p: p.stem)
def test_invariants_hold_for_every_fixture(path: Path) -> None:
    source, doc = parse(path)
    check_invariants(source, doc)


def check_invariants(source: str, doc: ParsedDocument) -> None:
    names = {p.name for p in doc.people}
    for i, section in enumerate(doc.sections):
        assert section.paragraphs
        if section.kind in ("speech", "answer"):
            assert section.speaker in names
        if section.kind == "answer" and section.question is not None:
            assert section.question < i and doc.sections[section.question].kind == "question"
        for paragraph in section.paragraphs:
            assert paragraph_from_source(source, paragraph.lines) == paragraph.text
            assert not paragraph.segments or section.kind == "narrative"
            for segment in paragraph.segments:
                assert 0 <= segment.start < segment.end <= len(paragraph.text)
                assert segment.speaker in names
                if segment.attribution == "direct":
                    assert paragraph.text[segment.start - 1] in OPENING
                    assert segment.end == len(paragraph.text) or paragraph.text[segment.end] in CLOSING
            spans = sorted((s.start, s.end) for s in paragraph.segments)
            assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "segments overlap"


def test_an_explicit_format_is_honoured() -> None:
    path = FIXTURES / "press-qa.txt"
    assert parse(path)[1].format == "press"
    assert parse(path, "interview")[1].format == "interview"
    with pytest.raises(CorpusError, match="speech expected"):
        parse(FIXTURES / "news-dateline.txt", "speech")
    with pytest.raises(CorpusError, match="unknown text format `poem`"):
        parse(path, "poem")
    with pytest.raises(CorpusError, match=r"applies to text, web, Word and PDF files"):
        parse_source(Path("x.md"), b"# t\n\n## A\n\nB.\n", "news")


@pytest.mark.parametrize("path", REFUSED, ids=lambda p: p.stem)
def test_refusal_names_what_each_format_expected(path: Path) -> None:
    with pytest.raises(CorpusError) as err:
        parse(path)
    for part in expected(path)["message_contains"]:
        assert part in str(err.value)


def test_detection_prefers_the_format_that_explains_more() -> None:
    text = (FIXTURES / "speech-name-line.txt").read_text(encoding="utf-8")
    speech = parse_text(Path("s.txt"), text)
    zhaideng = parse_text(Path("s.txt"), text, "zhaideng")
    assert speech.format == "speech" and coverage(speech) == coverage(zhaideng) == 1.0
    assert "亲爱的同学们" in zhaideng.sections[0].paragraphs[0].text  # 发言摘登 keeps the salutation as speech
    bare = parse_text(Path("b.txt"), "乡村振兴里的文化力量\n\n张华（湖南省文化馆馆长）\n\n文化下乡要常态化。\n")
    assert bare.format == "zhaideng"  # no salutation or closing: read as before


def test_a_quote_spanning_paragraphs_without_a_closing_mark_keeps_its_speaker() -> None:
    _, doc = parse(FIXTURES / "news-xinhua.txt")
    _, _, first = find(doc, "十年前")
    _, _, second = find(doc, "这两年不一样了")
    assert first.text.count("“") == 1 and "”" not in first.text
    assert {s.speaker for s in first.segments} == {s.speaker for s in second.segments} == {"赵秀兰"}


# ---------------------------------------------------------------- robustness

LINES = st.lists(
    st.one_of(
        st.text(alphabet="王陈刘馆长局长说表示“”「」：:，。！？（）记者问答主持人各位来宾谢谢大家 \n", max_size=40),
        st.sampled_from(["记者：", "陈静：", "问：", "答：", "——在大会上的讲话", "出席发布会的有：", "“好。”他说。"]),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_arbitrary_text_never_crashes_a_parser(lines: list[str]) -> None:
    text = "\n".join(lines)
    if not text.strip():
        return
    for name, parser in TEXT_FORMATS.items():
        try:
            doc = parser(Path(f"{name}.txt"), text)
        except CorpusError:
            continue
        check_invariants(text, doc)


# ---------------------------------------------------------------- attribution rules, one at a time

INTRO = "云溪市文化和旅游局局长王建华出席会议。"


CONTROL = "散会前，馆长陈小兰说：“散会。”"  # one attributed paragraph, so that news never refuses the report


def attributed(*paragraphs: str) -> list[list[tuple[str, str, str]]]:
    """The (speaker, attribution, text) segments of each paragraph of a small report."""
    doc = parse_text(Path("r.txt"), "\n".join(["标题", INTRO, *paragraphs, CONTROL]), "news")
    found = [p for s in doc.sections for p in s.paragraphs][1:-1]
    return [[(s.speaker, s.attribution, p.text[s.start : s.end]) for s in p.segments] for p in found]


def test_a_quoted_phrase_without_a_speech_verb_is_not_speech() -> None:
    assert attributed("会议以“文化+科技”为主题。", "王建华表示，要推动“文化+科技”深度融合。") == [
        [],
        [("王建华", "reported", "王建华表示，要推动“文化+科技”深度融合。")],
    ]


def test_a_quote_split_by_its_speech_tag_is_one_speaker_s() -> None:
    assert attributed("“夜游要有内容，”王局长说，“也要有故事。”") == [
        [("王建华", "direct", "夜游要有内容，"), ("王建华", "direct", "也要有故事。")]
    ]


def test_the_speech_tag_after_a_quote_may_start_reported_speech() -> None:
    assert attributed("“夜游要有内容，”王建华说，有了内容才有回头客。") == [
        [("王建华", "direct", "夜游要有内容，"), ("王建华", "reported", "王建华说，有了内容才有回头客。")]
    ]


def test_a_quotation_continues_into_the_next_paragraph_and_takes_the_trailing_speaker() -> None:
    assert attributed("“古城的夜晚要亮起来。", "“更要热闹起来。”王局长说。") == [
        [("王建华", "direct", "古城的夜晚要亮起来。")],
        [("王建华", "direct", "更要热闹起来。")],
    ]


def test_a_paragraph_ending_with_a_speech_verb_gives_the_next_quotation_its_speaker() -> None:
    assert attributed("谈到夜游，王建华说：", "“夜游要有内容。”") == [[], [("王建华", "direct", "夜游要有内容。")]]


def test_a_pronoun_does_not_reach_past_an_anonymous_voice() -> None:
    assert attributed("王建华介绍了夜游线路。市民刘阿姨也来了，她说：“太好看了。”") == [[]]


def test_a_pronoun_takes_the_previous_paragraph_s_speaker() -> None:
    assert attributed("王建华介绍了夜游线路。", "他说：“还要再加十条。”") == [
        [],
        [("王建华", "direct", "还要再加十条。")],
    ]


def test_an_object_or_a_joint_subject_is_not_the_speaker() -> None:
    assert attributed("记者向王建华表示，希望多开夜场。") == [[]]
    assert attributed("主办方和王建华都表示，夜游很受欢迎。") == [[]]


def test_words_that_only_contain_a_speech_verb_are_not_speech() -> None:
    assert attributed("王建华的小说，写的是古城。", "据说，王建华号称，古城最美。") == [[], []]


def test_an_unintroduced_name_is_nobody() -> None:
    doc = parse_text(Path("r.txt"), "标题\n" + INTRO + "\n“夜游很好。”李明说。\n“很好。”王建华说。", "news")
    assert doc.notes == ("1 quotation whose speaker could not be identified is kept as the article's text",)
    assert {p.name for p in doc.people} == {"王建华"}


def test_traditional_text_is_matched_on_its_simplified_shadow_and_kept_as_printed() -> None:
    doc = parse_text(Path("t.txt"), "標題\n嘉南美術館館長黃怡君出席。\n「我們會繼續努力。」黃館長說。", "news")
    paragraph = doc.sections[0].paragraphs[1]
    assert [(s.speaker, paragraph.text[s.start : s.end]) for s in paragraph.segments] == [
        ("黃怡君", "我們會繼續努力。")
    ]
    assert doc.people[0].organization == "嘉南美術館"


# ---------------------------------------------------------------- Markdown and JSONL questions and answers


def test_markdown_question_headings_make_the_next_speakers_answers() -> None:
    text = "# 专访\n\n## 记者\n\n有多少藏品？\n\n## 陈静（馆长，云溪市博物馆）\n\n4.2万件。\n\n## 问\n\n下一步？\n\n## 陈静\n\n开放库房。\n"
    _, doc = parse_source(Path("i.md"), text.encode())
    assert [(s.kind, s.speaker, s.question) for s in doc.sections] == [
        ("question", "记者", None),
        ("answer", "陈静", 0),
        ("question", "问", None),
        ("answer", "陈静", 2),
    ]
    assert [(p.name, p.title, p.organization) for p in doc.people] == [("陈静", "馆长", "云溪市博物馆")]


def test_jsonl_questions_answers_and_narrative_segments() -> None:
    records = [
        {"kind": "editor_note", "text": "本报专访了陈静。"},
        {"kind": "question", "id": "q1", "speaker": "记者", "text": "有多少藏品？"},
        {"kind": "question", "id": "q2", "speaker": "记者", "text": "下一步？"},
        {"kind": "answer", "question": "q1", "speaker": "陈静", "title": "云溪市博物馆馆长", "text": "4.2万件。"},
        {
            "kind": "narrative",
            "text": "“夜游要有内容。”王建华说，古城要有故事。",
            "segments": [
                {"speaker": "王建华", "title": "局长", "text": "夜游要有内容。"},
                {"speaker": "王建华", "text": "王建华说，古城要有故事。", "attribution": "reported"},
            ],
        },
    ]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    source, doc = parse_source(Path("i.jsonl"), data)
    check_invariants(source, doc)
    assert [(s.kind, s.speaker, s.question) for s in doc.sections] == [
        ("editor_note", "", None),
        ("question", "记者", None),
        ("question", "记者", None),
        ("answer", "陈静", 1),
        ("narrative", "", None),
    ]
    assert [(s.speaker, s.attribution) for s in doc.sections[4].paragraphs[0].segments] == [
        ("王建华", "direct"),
        ("王建华", "reported"),
    ]


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"kind": "answer", "speaker": "陈静", "text": "有。"}], "before any `question`"),
        (
            [
                {"kind": "question", "text": "？"},
                {"kind": "answer", "question": "q9", "speaker": "陈静", "text": "有。"},
            ],
            "`q9`",
        ),
        (
            [{"kind": "narrative", "text": "他说好。", "segments": [{"speaker": "王", "text": "好"}]}],
            "inside quotation marks",
        ),
        (
            [{"kind": "narrative", "text": "他说好。", "segments": [{"speaker": "王", "text": "坏"}]}],
            "not in the record",
        ),
        (
            [
                {
                    "kind": "narrative",
                    "text": "“好。”",
                    "segments": [{"speaker": "王", "text": "好。", "attribution": "x"}],
                }
            ],
            "`attribution`",
        ),
    ],
)
def test_jsonl_refuses_broken_links_and_segments(records: list[dict[str, Any]], message: str) -> None:
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    with pytest.raises(CorpusError, match=message):
        parse_source(Path("bad.jsonl"), data)


def test_a_surname_and_title_shared_by_two_people_is_nobody() -> None:
    two = "散会前，副局长王建民说：“散会。”"
    doc = parse_text(Path("r.txt"), "\n".join(["标题", INTRO, "“夜游要有内容。”王局长说。", two]), "news")
    assert [s.speaker for s in doc.sections[0].paragraphs[1].segments] == []
    assert doc.notes == ("1 quotation whose speaker could not be identified is kept as the article's text",)


def test_a_speech_named_only_by_its_editor_s_note_or_its_title() -> None:
    body = "各位来宾：\n\n今天我们在这里开馆。\n\n谢谢大家！\n"
    noted = parse_text(Path("s.txt"), "开馆致辞\n\n编者按：湘楚大学副校长许明远在开馆仪式上致辞。\n\n" + body)
    assert noted.format == "speech" and [s.kind for s in noted.sections] == ["editor_note", "speech"]
    assert (noted.people[0].name, noted.people[0].title) == ("许明远", "副校长")
    titled = parse_text(Path("s.txt"), "许明远：让博物馆成为第二课堂\n\n" + body)
    assert titled.format == "speech" and titled.people[0].name == "许明远"


def test_a_report_under_a_name_headline_is_not_a_speech() -> None:
    text = "王建华：让古城夜游更有内容\n\n本报讯 云溪市文化和旅游局局长王建华表示，今年将新增夜游线路。\n"
    assert parse_text(Path("r.txt"), text).format == "news"
    with pytest.raises(CorpusError, match="speech expected"):
        parse_text(Path("r.txt"), text, "speech")


def test_the_speaker_is_the_subject_not_an_object_or_a_companion() -> None:
    assert attributed("“夜游要有内容。”王建华对陈小兰说。") == [[("王建华", "direct", "夜游要有内容。")]]
    assert attributed("王建华和同事李明说，夜游很受欢迎。") == [[]]
    assert attributed("王建华向陈小兰颁发了证书。", "他表示：“祝贺。”") == [[], [("王建华", "direct", "祝贺。")]]


def test_a_speech_whose_title_names_the_speaker() -> None:
    text = "云溪市文化和旅游局局长王建华在文旅大会上的讲话\n\n同志们：\n\n今年我们要把夜游做好。\n\n谢谢！\n"
    doc = parse_text(Path("s.txt"), text)
    assert doc.format == "speech" and (doc.people[0].name, doc.people[0].title) == ("王建华", "局长")
    report = "王建华在文旅大会上发表讲话\n\n本报讯 云溪市文化和旅游局局长王建华表示，今年将新增夜游线路。\n"
    assert parse_text(Path("r.txt"), report).format == "news"
