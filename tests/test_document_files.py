"""Document files as staff keep them, end to end: Word, PDF (columns, pages, radicals), saved web pages, and
text in UTF-16, GB18030/GBK and Big5, each added with `rag add` and answered through `POST /ask` with the real
model; every bad file is refused with its reason and changes nothing, from the CLI and the admin endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from support.stores import copy_store, tree_digest

from app.main import create_app
from rag import Index, Settings, load_index
from rag.cli import main as rag_cli
from rag.records import Quote
from rag.script import is_traditional
from rag.service import Service
from rag.verify import quote_problem

FILES = Path(__file__).resolve().parent / "fixtures" / "files"
# One file of each content; the same content in another type or encoding is read the same way (test_files.py).
GOOD = [
    "forum-speech.docx",
    "interview-table.docx",
    "news-two-column.pdf",
    "press-conference.pdf",
    "radicals.pdf",
    "traditional.pdf",
    "article-gbk.html",
    "speech-gb18030.txt",
    "interview-utf16be-nobom.txt",
]
REFUSED = {
    "encrypted.pdf": "the PDF is protected with a password",
    "scanned.pdf": "the PDF has no text layer (it is a scanned image); this program has no OCR",
    "truncated.pdf": "the PDF is cut short or damaged",
    "fake.docx": "the file is named .docx but its content is plain text; rename it to .txt",
    "zip-bomb.docx": "looks like a zip bomb",
    "encrypted.docx": "the Word file is protected with a password",
    "legacy-word97.doc": "a legacy Word .doc file; save it as .docx",
    "pdf-named.docx": "the file is named .docx but its content is a PDF; rename it to .pdf",
    "html-named.txt": "the file is named .txt but its content is an HTML page; rename it to .html",
    "frameset.html": "the page is only a frameset",
    "login.html": "the page is a login form, not an article",
    "mixed-utf8-gbk.txt": "the file mixes encodings",
    "latin1.txt": "the file's encoding could not be recognised",
    "binary.txt": "the file looks binary",
}


@pytest.fixture(scope="module")
def added(settings: Settings, built: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    local = copy_store(settings, tmp_path_factory.mktemp("files"))
    env = {"RAG_CORPUS_DIR": str(local.corpus_dir), "RAG_INDEX_DIR": str(local.index_dir)}
    result = CliRunner().invoke(rag_cli, ["add", *(str(FILES / name) for name in GOOD)], env=env)
    assert result.exit_code == 0, result.output
    return local, result.output


@pytest.fixture(scope="module")
def index(added: tuple[Settings, str]) -> Index:
    return load_index(added[0])


@pytest.fixture(scope="module")
def client(added: tuple[Settings, str], index: Index) -> Iterator[TestClient]:
    local = added[0]
    with TestClient(create_app(local, service=Service(local, index=index))) as c:
        yield c


def answer(client: TestClient, index: Index, question: str, document: str | None = None) -> dict[str, Any]:
    r = client.post("/ask", json={"question": question, "document": document})
    assert r.status_code == 200, r.text
    body = r.json()
    for q in (*body["quotes"], *body["closest"]):
        assert quote_problem(index, Quote(**q)) is None, q
    assert body["found"], body["answer"]
    return body


def report_line(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"Added {FILES / name}"))


def test_every_file_is_reported_with_its_type_encoding_and_format(added: tuple[Settings, str]) -> None:
    output = added[1]
    expected = {
        "forum-speech.docx": "Word file, read as a 发言摘登 page",
        "interview-table.docx": "Word file, read as an interview",
        "news-two-column.pdf": "PDF, read as a news report",
        "press-conference.pdf": "PDF, read as a press conference",
        "radicals.pdf": "PDF, read as a single speech",
        "article-gbk.html": "web page (GB18030), read as a news report",
        "speech-gb18030.txt": "text (GB18030), read as a 发言摘登 page",
        "interview-utf16be-nobom.txt": "text (UTF-16), read as an interview",
    }
    for name, kind in expected.items():
        assert kind in report_line(output, name), report_line(output, name)
    assert "note: read as GB18030" in output
    assert "note: 2 columns on page 1" in output


def test_a_word_file_with_bold_speaker_lines_and_a_text_box(client: TestClient, index: Index) -> None:
    first = answer(client, index, "星河文化传媒集团的动画系列累计播放了多少次？")["quotes"][0]
    assert first["speaker"] == "李晓明" and "12亿次" in first["text"]


def test_an_interview_kept_in_a_word_table_is_an_interview(client: TestClient, index: Index) -> None:
    first = answer(client, index, "王秀兰说年轻人喜欢什么样的湘绣作品？", "interview-table")["quotes"][0]
    assert first["speaker"] == "王秀兰" and first["kind"] == "answer" and "小而精" in first["text"]
    assert first["context"] == "年轻人喜欢什么样的作品？"


def test_a_two_column_newspaper_pdf_is_read_column_by_column_and_cites_its_page(
    client: TestClient, index: Index
) -> None:
    body = answer(client, index, "张立群说下一步要实施什么工程？", "news-two-column")
    first = body["quotes"][0]
    assert first["speaker"] == "张立群" and "十大工程" in first["text"] and first["page"] == 1
    assert first["attribution"] == "reported"


def test_a_press_conference_pdf_over_two_pages(client: TestClient, index: Index) -> None:
    first = answer(client, index, "刘敏说今年市财政安排了多少文化惠民资金？")["quotes"][0]
    assert first["speaker"] == "刘敏" and "3.2亿元" in first["text"] and first["context_by"] == "星沙日报记者"
    assert first["page"] in (1, 2)


def test_radicals_in_a_pdf_text_layer_are_found_by_the_ideographs(client: TestClient, index: Index) -> None:
    first = answer(client, index, "赵文博说西部地区文化产业有什么新变化？")["quotes"][0]
    assert first["speaker"] == "赵文博" and "西部地区" in first["text"] and "⻄" not in first["text"]


def test_a_traditional_pdf_answers_a_simplified_question(client: TestClient, index: Index) -> None:
    first = answer(client, index, "林志远认为未来十年有哪三个关键？")["quotes"][0]
    assert first["speaker"] == "林志遠" and is_traditional(first["text"]) and "數位轉型" in first["text"]


def test_a_saved_gbk_web_page_drops_its_boilerplate(client: TestClient, index: Index) -> None:
    first = answer(client, index, "孙建华说今年将安排多少专项资金？", "article-gbk")["quotes"][0]
    assert first["speaker"] == "孙建华" and "5亿元" in first["text"]
    texts = [c.text for c in index.chunks if c.document == "article-gbk"]
    assert texts and not any("版权所有" in t or "相关阅读" in t or "登录" in t for t in texts)


def test_gb18030_and_utf16_text_files(client: TestClient, index: Index) -> None:
    first = answer(client, index, "刘𠮷说全市有多少名省级以上非遗传承人？")["quotes"][0]
    assert first["speaker"] == "刘𠮷" and "86名" in first["text"]
    first = answer(client, index, "王秀兰怎么看机器刺绣？", "interview-utf16be-nobom")["quotes"][0]
    assert first["speaker"] == "王秀兰" and "温度" in first["text"]


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_bad_file_is_refused_with_its_reason_and_changes_nothing(
    name: str, added: tuple[Settings, str], tmp_path: Path
) -> None:
    local = copy_store(added[0], tmp_path)
    before = (tree_digest(local.corpus_dir), tree_digest(local.index_dir))
    env = {"RAG_CORPUS_DIR": str(local.corpus_dir), "RAG_INDEX_DIR": str(local.index_dir)}
    result = CliRunner().invoke(rag_cli, ["add", str(FILES / name)], env=env)
    assert result.exit_code == 1, result.output
    assert name in result.output and REFUSED[name] in result.output, result.output
    assert (tree_digest(local.corpus_dir), tree_digest(local.index_dir)) == before


@pytest.mark.parametrize("name", ["scanned.pdf", "zip-bomb.docx", "pdf-named.docx", "frameset.html"])
def test_the_admin_endpoint_refuses_the_same_files(name: str, added: tuple[Settings, str], tmp_path: Path) -> None:
    local = copy_store(added[0], tmp_path).model_copy(update={"admin_token": "t0ken-for-files"})
    before = tree_digest(local.corpus_dir)
    with TestClient(create_app(local)) as c:
        r = c.post(
            "/documents",
            files={"file": (name, (FILES / name).read_bytes())},
            headers={"Authorization": "Bearer t0ken-for-files"},
        )
    assert r.status_code == 422 and REFUSED[name] in r.json()["detail"], r.text
    assert tree_digest(local.corpus_dir) == before


def test_the_admin_endpoint_adds_a_pdf(added: tuple[Settings, str], tmp_path: Path) -> None:
    local = copy_store(added[0], tmp_path).model_copy(update={"admin_token": "t0ken-for-files"})
    with TestClient(create_app(local)) as c:
        r = c.post(
            "/documents",
            files={"file": ("news-three-column.pdf", (FILES / "news-three-column.pdf").read_bytes())},
            headers={"Authorization": "Bearer t0ken-for-files"},
        )
        assert r.status_code == 201, r.text
        document = r.json()["document"]
        assert (document["file_type"], document["format"]) == ("pdf", "news")
        stored = local.corpus_dir / document["file"]
        assert stored.read_bytes() == (FILES / "news-three-column.pdf").read_bytes()  # the original is kept
        body = c.post("/ask", json={"question": "吴卫东说古镇今年还将新增几条夜游线路？"}).json()
        assert body["quotes"][0]["speaker"] == "吴卫东"
