"""Document citation fields (year, 版次, url), the reading aid's words and pinyin, and question retention."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.embedder import FakeEmbedder
from support.stores import FIXTURES

from rag import Settings, build_index, load_index
from rag.cli import main
from rag.corpus import build_document
from rag.errors import CorpusError
from rag.feedback import FeedbackStore, QuestionRecord
from rag.ingest.records import Fields, Upload
from rag.ingest.store import add_documents
from rag.reading import gloss_text, name_forms, pinyin_with_marks
from rag.speakers import Speaker

FRONT_MATTER = """---
title: 测试报道
date: 9月30日
source: 测试日报
year: 2024
page: 04
url: https://example.org/a?b=1
---
# 测试报道

## 林一（总工程师，甲公司）

甲公司的海水淡化装置每天可以生产两万吨淡水。
"""


# ---------------------------------------------------------------- citation fields


def test_front_matter_gives_year_page_and_url() -> None:
    info = build_document(Path("report.md"), FRONT_MATTER.encode()).info
    assert (info.year, info.page, info.url) == ("2024", "04", "https://example.org/a?b=1")
    plain = build_document(Path("plain.md"), FRONT_MATTER.replace("year: 2024\n", "").encode()).info
    assert plain.year == "" and plain.date == "9月30日"  # never guessed from anything else


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(CorpusError, match="http"):
        build_document(
            Path("bad.md"), FRONT_MATTER.replace("https://example.org/a?b=1", "javascript:alert(1)").encode()
        )


def test_rag_add_stores_the_citation_fields(tmp_path: Path, corpus_dir: Path) -> None:
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    data = (FIXTURES / "markdown-zh.md").read_bytes()
    fields = Fields(slug="with-fields", year="2024", page="A3", url="https://example.org/x")
    add_documents(settings, [Upload("markdown-zh.md", data)], fields, embedder=FakeEmbedder())
    info = next(d for d in load_index(settings, FakeEmbedder()).documents if d.slug == "with-fields")
    assert (info.year, info.page, info.url) == ("2024", "A3", "https://example.org/x")

    env = {"RAG_CORPUS_DIR": str(settings.corpus_dir), "RAG_INDEX_DIR": str(settings.index_dir)}
    refused = CliRunner().invoke(main, ["add", str(FIXTURES / "markdown-zh.md"), "--year", "24"], env=env)
    assert refused.exit_code != 0 and "four digits" in refused.output


def test_an_index_without_the_fields_still_loads(tmp_path: Path, corpus_dir: Path) -> None:
    settings = Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "index")
    build_index(settings, FakeEmbedder())
    for path in settings.index_dir.glob("gen-*/documents.json"):  # as written before the fields existed
        rows = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps([{k: v for k, v in r.items() if k not in ("year", "page", "url")} for r in rows]))
    assert all(d.year == "" for d in load_index(settings, FakeEmbedder(), verify=False).documents)


# ---------------------------------------------------------------- the reading aid


def test_pinyin_gets_tone_marks() -> None:
    assert pinyin_with_marks("yun2 ji4 suan4") == "yún jì suàn"
    assert pinyin_with_marks("lu:4 gui4 liu2 Zhong1 guo2 de5 er2") == "lǜ guì liú Zhōng guó de ér"


def test_glossed_words_cover_the_text_exactly_and_names_stay_whole() -> None:
    text = "张冬说，中国移动客户规模较大，目前全国客户规模已超10亿。"
    names = name_forms([Speaker("张冬", name_en="Zhang Dong", kind="person")])
    words = gloss_text(text, names)
    assert all(text[w.start : w.start + len(w.word)] == w.word for w in words)
    assert words[0].word == "张冬" and words[0].name_forms == ("Zhang Dong",)
    customer = next(w for w in words if w.word == "客户")
    assert customer.readings[0].pinyin == "kè hù" and "customer" in customer.readings[0].glosses
    assert [w.word for w in words[2:4]] == ["中国", "移动"]  # a word CC-CEDICT lacks, as its dictionary words


# ---------------------------------------------------------------- retention of logged questions


def test_questions_older_than_the_retention_period_are_deleted(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    old = QuestionRecord(ask_id="old-question", question="旧问题", created_at="2020-01-01T00:00:00.000Z")
    new = QuestionRecord(ask_id="new-question", question="新问题")
    store.log_questions([old, new])
    assert store.forget_questions(30) == 1
    with sqlite3.connect(tmp_path / "fb.sqlite3") as conn:
        assert [r[0] for r in conn.execute("SELECT question FROM questions")] == ["新问题"]
