"""Real speech documents end to end: every format added with `rag add`, asked through `POST /ask`, with the
real model. Each answer names the right speaker, says how the words are attributed, and stays verbatim."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from support.stores import copy_store

from app.main import create_app
from rag import Index, Settings, load_index
from rag.cli import main as rag_cli
from rag.service import Service
from rag.verify import quote_problem

SPEECHES = Path(__file__).resolve().parent / "fixtures" / "speeches"


@pytest.fixture(scope="module")
def added(documents: tuple[Settings, str]) -> tuple[Settings, str]:
    """The session's store plus every speech-format fixture, added with `rag add` (conftest)."""
    return documents


@pytest.fixture(scope="module")
def index(added: tuple[Settings, str]) -> Index:
    return load_index(added[0])


@pytest.fixture(scope="module")
def client(added: tuple[Settings, str], index: Index) -> Iterator[TestClient]:
    local = added[0].model_copy(update={"cache_size": 0})
    with TestClient(create_app(local, service=Service(local, index=index))) as c:
        yield c


def ask(client: TestClient, question: str, **options: Any) -> dict[str, Any]:
    r = client.post("/ask", json={"question": question, **options})
    assert r.status_code == 200, r.text
    return r.json()


def checked(index: Index, body: dict[str, Any]) -> dict[str, Any]:
    """Every quote of an answer passes verification against the index (words, voice, attribution)."""
    from rag.records import Quote

    for q in (*body["quotes"], *body["closest"]):
        assert quote_problem(index, Quote(**q)) is None, q
    return body


# ---------------------------------------------------------------- adding


def test_every_format_is_added_with_its_counts(added: tuple[Settings, str]) -> None:
    output = added[1]
    for name, fmt in [
        ("news-xinhua.txt", "a news report"),
        ("interview-reporter.txt", "an interview"),
        ("press-numbered.txt", "a press conference"),
        ("speech-subtitle-byline.txt", "a single speech"),
        ("speech-traditional.txt", "a single speech"),
    ]:
        line = next(line for line in output.splitlines() if line.startswith(f"Added {SPEECHES / name}"))
        assert f"read as {fmt}:" in line, line
    news = next(line for line in output.splitlines() if "news-same-surname.txt" in line)
    assert "13 paragraphs: 8 attributed, 5 narrative" in news, news
    assert "note:" in output  # the quotations nobody could be tied to are reported


def test_a_document_no_format_reads_is_refused_with_what_each_expected(added: tuple[Settings, str]) -> None:
    env = {"RAG_CORPUS_DIR": str(added[0].corpus_dir), "RAG_INDEX_DIR": str(added[0].index_dir)}
    before = sorted(p.name for p in added[0].corpus_dir.iterdir())
    result = CliRunner().invoke(rag_cli, ["add", str(SPEECHES / "refusal-notice.txt")], env=env)
    assert result.exit_code == 1
    message = result.output
    for fmt in ("发言摘登 expected", "speech expected", "news expected", "interview expected", "press expected"):
        assert fmt in message, message
    assert sorted(p.name for p in added[0].corpus_dir.iterdir()) == before


def test_format_named_on_the_command_line_wins(tmp_path: Path, added: tuple[Settings, str]) -> None:
    local = copy_store(added[0], tmp_path)
    env = {"RAG_CORPUS_DIR": str(local.corpus_dir), "RAG_INDEX_DIR": str(local.index_dir)}
    source = tmp_path / "press-as-interview.txt"  # detected as a press conference; read as an interview
    source.write_bytes((SPEECHES / "press-qa.txt").read_bytes() + "\n（本文有删节）\n".encode())  # new content
    result = CliRunner().invoke(rag_cli, ["add", str(source), "--format", "interview", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"][0]["document"]["format"] == "interview"  # the progress bar is on stderr
    bad = CliRunner().invoke(rag_cli, ["add", str(source), "--format", "poem"], env=env)
    assert bad.exit_code == 2 and "poem" in bad.output


def test_speakers_are_learned_and_merged_across_documents_and_scripts(client: TestClient) -> None:
    speakers = {s["name"]: s for s in client.get("/speakers").json()}
    assert (speakers["王丽萍"]["title"], speakers["王丽萍"]["organization"]) == ("历史文化学院教授", "湘楚大学")
    assert sorted(speakers["王丽萍"]["documents"]) == ["news-same-surname", "news-xinhua"]
    # 許文彬 speaks in a news report and at a press conference: one speaker, found by either script.
    assert "许文彬" not in speakers
    assert sorted(speakers["許文彬"]["documents"]) == ["news-traditional", "press-traditional"]
    assert "报道" not in speakers and "记者" not in speakers  # a report's and an asker's voices are nobody


# ---------------------------------------------------------------- news reports: direct and reported speech


def test_a_direct_quote_inside_a_report_is_quoted_on_its_own(client: TestClient, index: Index) -> None:
    body = checked(index, ask(client, "赵秀兰说现在培训班每期有多少人报名？"))
    first = body["quotes"][0]
    assert first["speaker"] == "赵秀兰" and first["attribution"] == "direct" and first["kind"] == "narrative"
    assert "上百人报名" in first["text"]
    assert "她说" not in first["text"] and not first["text"].startswith("“")  # inside the marks, nothing else
    assert f"“{first['text']}”" in body["answer"]


def test_reported_speech_keeps_its_sentence_and_is_never_shown_as_the_speakers_words(
    client: TestClient, index: Index
) -> None:
    body = checked(index, ask(client, "王建华说云溪市现有多少家博物馆？"))
    first = body["quotes"][0]
    assert first["speaker"] == "王建华" and first["attribution"] == "reported"
    assert first["text"].startswith("云溪市文化和旅游局副局长王建华在致辞中说，") and "47家" in first["text"]
    assert f"“{first['text']}”" not in body["answer"]
    assert body["answer"].startswith("据") and "转述，非原话" in body["answer"]


def test_a_quote_whose_speaker_is_ambiguous_is_attributed_to_nobody(client: TestClient, index: Index) -> None:
    # “博物馆首先是研究机构…” is said by 王老师: two people surnamed 王 are in that report.
    for question in ("谁说博物馆首先是研究机构？", "王丽萍认为博物馆首先是研究机构吗？", "博物馆首先是研究机构吗？"):
        body = checked(index, ask(client, question))
        for q in (*body["quotes"], *body["closest"]):
            if "首先是研究机构" in q["text"]:
                assert q["attribution"] is None and q["speaker"] == "报道", q


def test_who_questions_and_speaker_filters_never_quote_the_reporter(client: TestClient, index: Index) -> None:
    body = checked(index, ask(client, "谁建议培养青年讲解员？"))
    assert body["quotes"][0]["speaker"] == "王丽萍" and body["answer"].startswith("王丽萍")
    filtered = checked(index, ask(client, "湘楚非遗周开幕以来有多少观众？", speaker="赵秀兰"))
    assert all(q["speaker"] == "赵秀兰" and q["attribution"] in ("direct", "reported") for q in filtered["quotes"])


def test_the_reporters_own_facts_are_the_reports_words(client: TestClient, index: Index) -> None:
    body = checked(index, ask(client, "湘楚非遗周开幕三天来线下观众有多少人次？"))
    narrative = [q for q in body["quotes"] if "15万人次" in q["text"]]
    assert narrative and narrative[0]["attribution"] is None and narrative[0]["speaker"] == "报道"


def test_a_title_that_refers_back_to_an_organisation_takes_its_name(client: TestClient, index: Index) -> None:
    # `公司副总经理罗文涛` after the sentence naming 青岚数智建设有限公司; a question names it without 有限公司.
    speakers = {s["name"]: s for s in client.get("/speakers").json()}
    assert (speakers["罗文涛"]["title"], speakers["罗文涛"]["organization"]) == ("副总经理", "青岚数智建设有限公司")
    body = checked(index, ask(client, "青岚数智建设的副总经理怎么说传感器？"))
    first = body["quotes"][0]
    assert first["speaker"] == "罗文涛" and first["organization"] == "青岚数智建设有限公司"
    assert "400多个传感器" in first["text"]


def test_a_speakers_organisation_is_read_from_the_front_matter_and_named_in_english(
    client: TestClient, index: Index
) -> None:
    # The byline says only 院长; the editor's note names the one college. English questions name it in pinyin.
    speakers = {s["name"]: s for s in client.get("/speakers").json()}
    assert speakers["周明远"]["organization"] == "湘江职业技术学院"
    body = checked(index, ask(client, "What did the president of Xiangjiang College say about the employment rate?"))
    assert body["quotes"] and {q["speaker"] for q in body["quotes"]} == {"周明远"}  # the question names him


def test_a_named_speaker_is_not_answered_about_what_they_never_spoke_of(client: TestClient, index: Index) -> None:
    assert not ask(client, "罗文涛透露青岚数智建设去年营收多少？")["found"]  # 营收 is in none of his words
    body = checked(index, ask(client, "罗文涛说工地上布设了多少个传感器？"))
    assert body["found"] and body["quotes"][0]["speaker"] == "罗文涛"
    # The noun that names the kind of answer is not a topic: the answer lists instances without it.
    for question in ("徐少春建议把哪些品质打造成为湖南人的新标签？", "徐少春认为企业数字化的关键是什么？"):
        assert ask(client, question)["quotes"][0]["speaker"] == "徐少春", question


def test_a_count_question_is_answered_by_a_paragraph_stating_that_count(client: TestClient, index: Index) -> None:
    body = checked(index, ask(client, "青岚职业技术学院智能建造专业首批招了多少名学生？"))
    first = body["quotes"][0]
    assert first["speaker"] == "沈若冰" and "120名" in first["text"]
    # A count the speeches never state in the unit asked is not answered with some other number.
    assert not ask(client, "青岚数智建设有限公司在城南布设了多少台塔吊？")["found"]


# ---------------------------------------------------------------- interviews and press conferences


def test_an_answer_carries_the_question_it_answers(client: TestClient, index: Index) -> None:
    body = checked(index, ask(client, "陈静说云溪市博物馆现有多少件藏品？"))
    first = body["quotes"][0]
    assert first["speaker"] == "陈静" and first["kind"] == "answer" and first["attribution"] == "direct"
    assert "4.2万件" in first["text"] and not first["text"].startswith("陈静")
    assert first["context"].startswith("云溪市博物馆有多少藏品") and first["context_by"] == "记者"


def test_a_question_lifts_the_answer_that_matches_not_only_the_first(client: TestClient, index: Index) -> None:
    # Question 2 asks 陈静 about longer opening hours; 王建华补充 answers the part about subsidies.
    body = checked(index, ask(client, "博物馆延长开放时间后，市里有什么支持？"))
    first = body["quotes"][0]
    assert first["speaker"] == "王建华" and "运营补贴" in first["text"] and first["kind"] == "answer"
    assert first["context"].startswith("请问陈馆长")


def test_a_question_without_an_answer_is_never_quoted(client: TestClient, index: Index) -> None:
    body = checked(index, ask(client, "博物馆筹备的夜游项目进展如何？"))
    assert all(q["kind"] != "question" for q in (*body["quotes"], *body["closest"]))


def test_press_conference_answers_name_the_asking_outlet(client: TestClient, index: Index) -> None:
    body = checked(index, ask(client, "今年云溪在夜间文旅方面有哪些新举措？", speaker="王建华"))
    first = body["quotes"][0]
    assert first["speaker"] == "王建华" and first["kind"] == "answer" and first["context_by"] == "新华社记者"
    assert "答新华社记者问" in body["answer"]


def test_a_single_speech_is_the_speakers_words(client: TestClient, index: Index) -> None:
    body = checked(index, ask(client, "王建华在文旅融合发展大会上说要设立多大规模的产业基金？"))
    first = body["quotes"][0]
    assert (first["speaker"], first["kind"], first["attribution"]) == ("王建华", "speech", "direct")
    assert "10亿元" in first["text"]


# ---------------------------------------------------------------- traditional characters


def test_simplified_questions_find_traditional_words_quoted_as_printed(client: TestClient, index: Index) -> None:
    body = checked(index, ask(client, "黄怡君说美术馆夜间开放是怎么想到的？"))
    first = body["quotes"][0]
    assert first["speaker"] == "黃怡君" and first["context"] == "夜間開放是怎麼想到的？"
    assert "開放" in first["text"] and "开放" not in first["text"]  # the quote stays 繁體 as printed
    by_filter = checked(index, ask(client, "文化护照", speaker="许文彬"))
    assert by_filter["quotes"] and {q["speaker"] for q in by_filter["quotes"]} == {"許文彬"}


def test_the_speech_panel_opens_a_whole_report(client: TestClient) -> None:
    data = client.get("/speeches/news-same-surname").json()
    kinds = {p["kind"] for p in data["paragraphs"]}
    assert kinds == {"narrative"}
    quoted = [p for p in data["paragraphs"] if p["segments"]]
    assert quoted and all(s["attribution"] in ("direct", "reported") for p in quoted for s in p["segments"])


def test_rag_ask_shows_reported_speech_as_reported(added: tuple[Settings, str]) -> None:
    env = {"RAG_CORPUS_DIR": str(added[0].corpus_dir), "RAG_INDEX_DIR": str(added[0].index_dir)}
    result = CliRunner().invoke(rag_cli, ["ask", "王建华说云溪市现有多少家博物馆？", "--top-k", "1"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("据") and "47家" in lines[0] and "“" not in lines[0][:3]
    assert "转述（非原话）" in lines[1] and "王建华" in lines[1]
    answered = CliRunner().invoke(rag_cli, ["ask", "陈静说云溪市博物馆现有多少件藏品？", "--top-k", "1"], env=env)
    assert "记者：云溪市博物馆有多少藏品" in answered.output and "（答记者问）" in answered.output
