"""Document files → decoded text (rag.files), on real files made by LibreOffice and real codecs.

The fixtures in tests/fixtures/files/ are made by scripts/make_file_fixtures.py from the source texts it
holds; the expected paragraphs below are those same texts, imported from it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
import socket
import statistics
import time
from pathlib import Path
from types import ModuleType

import pytest

from rag.errors import CorpusError
from rag.files import SUFFIXES, DecodedFile, FileLimits, read_file, sniff, warm_up
from rag.files.cjk import radical_table, replace_artefacts
from rag.files.limits import GIB, MIB
from rag.files.pdf_clean import tidy_spaces
from rag.files.sandbox import run_sandboxed
from rag.files.text import decode_text
from rag.textutil import join_layout_lines

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "files"
LIMITS = FileLimits()


def _load_sources() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_file_fixtures", ROOT / "scripts" / "make_file_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SRC = _load_sources()


def read(name: str, limits: FileLimits = LIMITS) -> DecodedFile:
    return read_file(name, (FIXTURES / name).read_bytes(), limits)


def refusal(name: str, data: bytes | None = None, limits: FileLimits = LIMITS) -> str:
    with pytest.raises(CorpusError) as info:
        read_file(name, (FIXTURES / name).read_bytes() if data is None else data, limits)
    assert info.value.path == name
    return info.value.reason


def flat(decoded: DecodedFile) -> str:
    """The text as the format parsers rebuild paragraphs: layout lines joined (space only between Latin)."""
    return join_layout_lines([line for line in decoded.text.split("\n") if line])


def assert_in_order(text: str, parts: list[str]) -> None:
    at = 0
    for part in parts:
        found = text.find(part, at)
        assert found >= 0, f"missing or out of order: {part!r}"
        at = found + len(part)


def lines_of(decoded: DecodedFile) -> list[str]:
    return decoded.text.split("\n")


# ------------------------------------------------------------------------------------------------ PDF


def test_two_column_pdf_reads_each_column_top_to_bottom_left_first() -> None:
    decoded = read("news-two-column.pdf")
    # Column 1 of page 1 ends inside a sentence (…数字内) that column 2 finishes (容公共服务平台。): the
    # paragraphs come out whole and in order only if column 1 is read entirely before column 2.
    assert_in_order(flat(decoded), [SRC.NEWS_TITLE, *SRC.NEWS_PARAGRAPHS, SRC.NEWS2_TITLE, *SRC.NEWS2_PARAGRAPHS])
    lines = lines_of(decoded)
    assert lines.index("容公共服务平台。") == lines.index("说，园区正在建设一个面向中小企业的数字内") + 1
    assert "2 columns on page 1" in decoded.notes and "2 columns on page 2" in decoded.notes
    assert decoded.file_type == "pdf" and decoded.encoding == "" and decoded.title == SRC.NEWS_TITLE


def test_pdf_page_whose_layout_changes_from_one_to_three_columns_and_back() -> None:
    decoded = read("news-three-column.pdf")
    lead, *rest = SRC.NEWS2_PARAGRAPHS
    assert_in_order(flat(decoded), [SRC.NEWS_TITLE, lead, *SRC.NEWS_PARAGRAPHS, *rest])
    assert "3 columns on page 1" in decoded.notes


def test_pdf_drops_running_header_footer_and_page_numbers() -> None:
    for name, header in (("news-two-column.pdf", SRC.NEWS_HEADER), ("press-conference.pdf", SRC.PRESS_HEADER)):
        decoded = read(name)
        assert header not in decoded.text
        assert not [line for line in lines_of(decoded) if re.fullmatch(r"第\d+页|- \d+ -", line)]
        assert any(n.startswith("dropped 2 running header/footer") for n in decoded.notes)
        assert "dropped 2 page number(s)" in decoded.notes


def test_pdf_line_pages_give_every_line_its_page() -> None:
    decoded = read("press-conference.pdf")
    lines = lines_of(decoded)
    assert len(decoded.line_pages) == len(lines)
    assert decoded.line_pages[0] == 1 and decoded.line_pages[-1] == 2
    assert list(decoded.line_pages) == sorted(decoded.line_pages)
    # Page 2 starts with the answer to question 4 (seen on the rendered pages).
    first_on_2 = decoded.line_pages.index(2)
    assert lines[first_on_2].startswith("陈国强：主要是三个方面。")
    assert lines[first_on_2 - 1].startswith("4、湖南卫视记者：")
    assert_in_order(flat(decoded), [SRC.PRESS_TITLE, *SRC.PRESS_LINES])


def test_pdf_number_broken_across_lines_is_kept_whole() -> None:
    decoded = read("news-two-column.pdf")
    assert "1035亿元" in decoded.text.split("\n")[3] or any(line.startswith("1035亿元") for line in lines_of(decoded))
    assert "103 5" not in flat(decoded)


def test_pdf_radicals_and_spaces_of_the_text_layer_are_normalised() -> None:
    decoded = read("radicals.pdf")
    text = flat(decoded)
    for expected in SRC.RADICALS_EXPECTED:
        assert expected in text
    assert "⻄" not in decoded.text and "⽂" not in decoded.text and "⻓" not in decoded.text
    assert "2024年" in text and "2024 年" not in text and "AI创作" in text
    assert "Creative Hub" in text  # two Latin words keep their space
    assert any(n.startswith("replaced 15 radical") for n in decoded.notes)


def test_pdf_traditional_chinese() -> None:
    decoded = read("traditional.pdf")
    assert_in_order(flat(decoded), list(SRC.TRAD_LINES))


def test_pdf_with_only_an_owner_password_is_read() -> None:
    decoded = read("owner-password-only.pdf")
    assert_in_order(flat(decoded), list(SRC.PRESS_LINES))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("encrypted.pdf", "the PDF is protected with a password (encrypted)"),
        ("truncated.pdf", "the PDF is cut short or damaged (it has no end-of-file marker)"),
        ("scanned.pdf", "the PDF has no text layer (it is a scanned image); this program has no OCR"),
    ],
)
def test_pdf_refusals(name: str, expected: str) -> None:
    assert expected in refusal(name)


def test_pdf_with_a_damaged_body_is_refused() -> None:
    data = (FIXTURES / "radicals.pdf").read_bytes()
    # The end-of-file marker is there, the cross-reference table and objects are garbage.
    damaged = data[:200] + bytes(range(256)) * 40 + b"\nstartxref\n999999\n%%EOF\n"
    assert "the PDF is damaged" in refusal("damaged.pdf", damaged)


def test_pdf_limits() -> None:
    assert "has 2 pages, more than the 1" in refusal("press-conference.pdf", limits=FileLimits(max_pages=1))
    assert "more than the 1000 bytes" in refusal("press-conference.pdf", limits=FileLimits(max_bytes=1000))


@pytest.mark.parametrize(
    ("raw", "tidy"),
    [
        ("我们 2024 年", "我们2024年"),
        ("新增 AI 创作平台", "新增AI创作平台"),
        ("Creative Hub 等机构", "Creative Hub等机构"),
        ("单 时 ， 汇 率", "单时，汇率"),  # justified text with a space after every character
        ("（记者 刘洋）", "（记者 刘洋）"),  # a space the text layer has between two names stays
        ("ﬁnance and ﬂow", "finance and flow"),
        ("全角，：（）２０２４", "全角，：（）２０２４"),  # CJK punctuation and full-width forms stay as printed
    ],
)
def test_pdf_line_spaces(raw: str, tidy: str) -> None:
    assert tidy_spaces(raw) == tidy


# ------------------------------------------------------------------------------------------------ radicals


def test_radical_table_covers_the_cjk_radicals_supplement() -> None:
    table = radical_table()
    assert len(table) == 114  # every mapped code point of U+2E80–U+2EF3 (U+2E80 and U+2E9A have none)
    assert all(0x2E81 <= cp <= 0x2EF3 for cp in table) and 0x2E9A not in table
    samples = {"⻄": "西", "⻓": "长", "⻝": "食", "⻔": "门", "⻅": "见", "⻢": "马", "⻩": "黄", "⻰": "龙"}
    for radical, ideograph in samples.items():
        assert table[ord(radical)] == ideograph
    assert table[0x2E87] == "\U00020628"  # an equivalent outside the BMP


def test_replace_artefacts_maps_both_radical_blocks_and_compatibility_ideographs() -> None:
    text, counts = replace_artefacts("⻄部⽂化，⻓沙⻔店\ufa0c")
    assert text == "西部文化，长沙门店兀"
    assert counts["radical"] == 4 and counts["compatibility ideograph"] == 1


# ------------------------------------------------------------------------------------------------ DOCX


def test_docx_paragraphs_headings_text_box_and_bold_speaker_lines() -> None:
    decoded = read("forum-speech.docx")
    lines = lines_of(decoded)
    first, second = SRC.FORUM_SECTIONS
    expected = [SRC.FORUM_TITLE, SRC.FORUM_SUBTITLE, SRC.FORUM_NOTE, first[0], first[1], *first[2]]
    expected += [second[0], second[1], *second[2]]
    assert lines == expected  # the text box (editor's note) once, in place; every paragraph its own line
    assert "put 1 bold speaker label(s) on their own line" in decoded.notes
    assert "read 1 text box(es)" in decoded.notes
    assert SRC.FORUM_HEADER not in decoded.text and "- 1 -" not in decoded.text
    assert decoded.title == SRC.FORUM_TITLE and decoded.file_type == "docx" and decoded.encoding == ""


def test_docx_table_is_read_row_by_row_in_document_order() -> None:
    decoded = read("interview-table.docx")
    lines = lines_of(decoded)
    cells = [text for who, what in SRC.INTERVIEW_QA for text in (f"{who}：", what)]
    head = [SRC.INTERVIEW_TITLE, SRC.INTERVIEW_SUBTITLE, SRC.INTERVIEW_BYLINE, SRC.INTERVIEW_LEAD, SRC.INTERVIEW_BOX]
    assert lines == [*head, *cells, SRC.INTERVIEW_CLOSING]
    assert "read 1 table(s) row by row" in decoded.notes


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("fake.docx", "the file is named .docx but its content is plain text; rename it to .txt"),
        ("zip-bomb.docx", "the Word file looks like a zip bomb: word/media/image1.png inflates from"),
        ("encrypted.docx", "the Word file is protected with a password (encrypted)"),
        ("legacy-word97.doc", "a legacy Word .doc file; save it as .docx"),
        ("pdf-named.docx", "the file is named .docx but its content is a PDF; rename it to .pdf"),
        ("docx-named.pdf", "the file is named .pdf but its content is a Word document (.docx); rename it to .docx"),
    ],
)
def test_docx_refusals(name: str, expected: str) -> None:
    assert expected in refusal(name)


def test_docx_inflating_past_the_limit_is_refused() -> None:
    reason = refusal("forum-speech.docx", limits=FileLimits(max_uncompressed_bytes=10_000))
    assert reason.startswith("the Word file inflates to") and "more than the" in reason


def test_docx_legacy_doc_named_docx_is_refused_as_legacy() -> None:
    data = (FIXTURES / "legacy-word97.doc").read_bytes()
    assert refusal("speech.docx", data) == "a legacy Word .doc file; save it as .docx"


# ------------------------------------------------------------------------------------------------ HTML


def test_html_article_with_boilerplate() -> None:
    decoded = read("article-utf8.html")
    lines = lines_of(decoded)
    qa = [f"{who}：{what}" for who, what in SRC.INTERVIEW_QA]
    assert lines[:3] == [SRC.INTERVIEW_TITLE, SRC.INTERVIEW_SUBTITLE, SRC.INTERVIEW_LEAD]
    assert lines[3:] == [*qa[:2], "“小而精”更受欢迎", *qa[2:], SRC.INTERVIEW_CLOSING]
    for boilerplate in (
        "首页",
        "热点排行",
        "春季车展",
        "网友评论",
        "支持！",
        "相关阅读",
        "版权所有",
        "责任编辑",
        "分享到",
    ):
        assert boilerplate not in decoded.text
    assert (decoded.title, decoded.date, decoded.source) == (SRC.INTERVIEW_TITLE, "2024-03-05", SRC.NEWS_SITE)
    assert decoded.encoding == "utf-8" and decoded.file_type == "html"


def test_html_gbk_page_declared_in_meta_charset() -> None:
    decoded = read("article-gbk.html")
    assert decoded.encoding == "gb18030" and "read as GB18030" in decoded.notes
    assert lines_of(decoded) == [SRC.NEWS_TITLE, *SRC.NEWS_PARAGRAPHS]
    assert decoded.date == "2024-03-05"


def test_html_page_that_declares_the_wrong_charset() -> None:
    page = (FIXTURES / "article-utf8.html").read_bytes().replace(b'charset="utf-8"', b'charset="gbk"')
    decoded = read_file("page.html", page, LIMITS)
    assert decoded.encoding == "utf-8" and "the page declares gbk" in decoded.notes
    assert SRC.INTERVIEW_LEAD in decoded.text


def test_html_line_breaks_inside_a_paragraph_keep_speaker_lines_apart() -> None:
    qa = "<br>\n".join(f"{who}：{what}" for who, what in SRC.INTERVIEW_QA)
    page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>访谈</title></head><body><article><p>{qa}</p></article></body></html>"
    decoded = read_file("qa.html", page.encode(), LIMITS)
    for who, what in SRC.INTERVIEW_QA:
        assert f"{who}：{what}" in lines_of(decoded)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("frameset.html", "the page is only a frameset: its text is in the frames it loads (nav.html, content_3.html)"),
        ("login.html", "the page is a login form, not an article"),
        ("no-article.html", "no article text found in the page (it may load its text with JavaScript"),
        ("html-named.txt", "the file is named .txt but its content is an HTML page; rename it to .html"),
    ],
)
def test_html_refusals(name: str, expected: str) -> None:
    assert expected in refusal(name)


# ------------------------------------------------------------------------------------------------ text


def test_gbk_text_file() -> None:
    decoded = read("speech-gbk.txt")
    assert (decoded.encoding, decoded.file_type) == ("gb18030", "text")
    assert "read as GB18030" in decoded.notes
    assert decoded.text == "\n".join(SRC.GBK_LINES) + "\n"  # CRLF line ends normalised


def test_gb18030_text_with_a_character_beyond_gbk() -> None:
    decoded = read("speech-gb18030.txt")
    assert decoded.encoding == "gb18030" and "刘𠮷（星沙市非遗保护中心主任）" in decoded.text


def test_big5_traditional_text_is_not_read_as_gb18030_mojibake() -> None:
    data = (FIXTURES / "speech-big5.txt").read_bytes()
    data.decode("gb18030")  # the bytes are valid GB18030 too: the classic trap
    decoded = read("speech-big5.txt")
    assert decoded.encoding == "big5" and "read as Big5" in decoded.notes
    assert decoded.text == "\n".join(SRC.TRAD_LINES) + "\n"


def test_utf16_with_and_without_byte_order_mark() -> None:
    expected = "\n".join(SRC.UTF16_LINES) + "\n"
    with_bom = read("interview-utf16le-bom.txt")
    assert (with_bom.encoding, with_bom.text) == ("utf-16", expected)
    without = read("interview-utf16be-nobom.txt")
    assert (without.encoding, without.text) == ("utf-16", expected)
    assert "read as UTF-16 (big-endian, no byte-order mark)" in without.notes


def test_utf8_bom_markdown() -> None:
    decoded = read("speech-utf8-bom.md")
    assert (decoded.encoding, decoded.file_type) == ("utf-8-sig", "markdown")
    assert decoded.text.startswith("# " + SRC.TRAD_TITLE)


SIMPLIFIED = "文化企业要敢于拥抱AI，但不能把创作交给机器。技术是笔，故事还得由人来写。\n记者：您怎么看？\n"
TRADITIONAL = "過去十年，我們看到許多年輕人回到家鄉，把老房子改造成書店、咖啡館和工作室。\n謝謝大家。\n"
SHORT_TRADITIONAL = "謝謝大家，今天很榮幸。\n"
SHORT_SIMPLIFIED = "谢谢大家，今天很荣幸。\n"


@pytest.mark.parametrize(
    ("text", "codec", "encoding"),
    [
        (SIMPLIFIED, "gbk", "gb18030"),
        (SIMPLIFIED, "gb2312", "gb18030"),
        (SIMPLIFIED, "gb18030", "gb18030"),
        (SHORT_SIMPLIFIED, "gbk", "gb18030"),
        (TRADITIONAL, "big5", "big5"),
        (TRADITIONAL, "cp950", "big5"),
        (SHORT_TRADITIONAL, "big5", "big5"),
        (TRADITIONAL, "gbk", "gb18030"),  # traditional characters exist in GBK too
        (SIMPLIFIED, "utf-8", "utf-8"),
        (SIMPLIFIED, "utf-8-sig", "utf-8-sig"),
        (SIMPLIFIED, "utf-16", "utf-16"),
        (SIMPLIFIED, "utf-16-le", "utf-16"),
    ],
)
def test_every_encoding_round_trips(text: str, codec: str, encoding: str) -> None:
    decoded = decode_text("speech.txt", text.encode(codec))
    assert (decoded.text, decoded.encoding) == (text, encoding)


def test_text_normalisation() -> None:
    decoded = decode_text("a.txt", "第一行\r\n第二行\r第三行\f第四\x07行\u2028末行\ufeff".encode())
    assert decoded.text == "第一行\n第二行\n第三行\n第四行\n末行"
    assert "dropped 2 control character(s)" in decoded.notes


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("binary.txt", "the file looks binary (a NUL byte at byte"),
        ("empty.txt", "the file is empty"),
        ("latin1.txt", "the file's encoding could not be recognised (tried UTF-8, UTF-16, GB18030/GBK and Big5"),
        ("mixed-utf8-gbk.txt", "the file mixes encodings: line 1 is UTF-8 but line 5 is not (it reads as GB18030)"),
    ],
)
def test_text_refusals(name: str, expected: str) -> None:
    assert expected in refusal(name)


def test_gbk_file_with_a_big5_paragraph_is_refused() -> None:
    data = SIMPLIFIED.encode("gbk") + TRADITIONAL.encode("big5") + SIMPLIFIED.encode("gbk")
    reason = refusal("mixed.txt", data)
    assert reason.startswith("the file mixes encodings: line 1 reads as GB18030 but line 3 as Big5")


def test_utf32_is_refused() -> None:
    assert "UTF-32" in refusal("a.txt", SIMPLIFIED.encode("utf-32"))


# ------------------------------------------------------------------------------------------------ sniffing


def test_every_suffix_reads_its_own_kind_of_content() -> None:
    samples = {
        "text": b"x\n",
        "markdown": b"# x\n",
        "jsonl": b"{}\n",
        "html": (FIXTURES / "article-utf8.html").read_bytes(),
        "docx": (FIXTURES / "interview-table.docx").read_bytes(),
        "pdf": (FIXTURES / "news-two-column.pdf").read_bytes(),
    }
    assert set(SUFFIXES.values()) == set(samples)
    for suffix, kind in SUFFIXES.items():
        assert sniff(f"a{suffix}", samples[kind]) == kind
        assert sniff(f"A{suffix.upper()}", samples[kind]) == kind


def test_sniff_tells_content_not_names() -> None:
    assert sniff("a.docx", (FIXTURES / "news-two-column.pdf").read_bytes()) == "pdf"
    assert sniff("a.txt", (FIXTURES / "article-utf8.html").read_bytes()) == "html"
    assert sniff("a.pdf", (FIXTURES / "interview-table.docx").read_bytes()) == "docx"
    assert sniff("a.md", b"# x\n") == "markdown" and sniff("a.jsonl", b"{}\n") == "jsonl"
    assert sniff("a.txt", b"x\n") == "text" and sniff("a.TXT", b"x\n") == "text"
    assert sniff("a.html", "\ufeff  <!-- saved from url -->\n<!DOCTYPE html>".encode()) == "html"
    assert sniff("a.htm", "<html><body>x".encode("utf-16")) == "html"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("a.rtf", b"{\\rtf1 x}", "an RTF document; save it as .docx"),
        ("a.csv", b"a,b\n", "unknown file type `.csv`"),
        ("a", b"x\n", "unknown file type `(no suffix)`"),
        ("a.pdf", b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "a PNG image, not a document; this program has no OCR"),
        ("a.html", b"plain words\n", "the file is named .html but its content is plain text; rename it to .txt"),
        ("a.pdf", b"   \n", "the file is empty"),
    ],
)
def test_refusals_by_content(name: str, data: bytes, expected: str) -> None:
    assert expected in refusal(name, data)


# ------------------------------------------------------------------------------------------------ sandbox


def _sleep_forever(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    time.sleep(60)
    raise AssertionError("not reached")


def _eat_memory(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    chunks = []
    while True:
        chunks.append(bytearray(16 * MIB))


def _segfault(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    ctypes.string_at(0)
    raise AssertionError("not reached")


def _burn_cpu(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (1, 3))
    while True:
        pass


def _raise_bug(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    return DecodedFile(text=str(1 / len(data)), file_type="text", encoding="utf-8")


def _connect(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    port = int(data.decode())
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        return DecodedFile(text=str(exc), file_type="text", encoding="utf-8")
    return DecodedFile(text="connected", file_type="text", encoding="utf-8")


def test_sandbox_wall_clock_timeout_kills_the_reader() -> None:
    started = time.perf_counter()
    with pytest.raises(CorpusError, match=r"reading the PDF took longer than 1 s; refused"):
        run_sandboxed(_sleep_forever, "slow.pdf", b"", FileLimits(max_seconds=1), "pdf")
    assert time.perf_counter() - started < 5
    assert read("radicals.pdf").text  # the parent is fine and reads the next file


def test_sandbox_memory_limit() -> None:
    with pytest.raises(CorpusError, match=r"reading the Word file needed more than 1 GiB of memory; refused"):
        run_sandboxed(_eat_memory, "big.docx", b"", FileLimits(max_memory_bytes=GIB), "docx")
    assert read("forum-speech.docx").text


def test_sandbox_crash_is_refused_and_the_parent_survives() -> None:
    with pytest.raises(CorpusError, match=r"the PDF reader crashed on this file \(signal SIGSEGV\); refused"):
        run_sandboxed(_segfault, "crash.pdf", b"", LIMITS, "pdf")
    with pytest.raises(CorpusError, match=r"the HTML reader crashed on this file \(ZeroDivisionError\); refused"):
        run_sandboxed(_raise_bug, "bug.html", b"", LIMITS, "html")
    assert read("article-utf8.html").text


def test_sandbox_cpu_limit() -> None:
    with pytest.raises(CorpusError, match=r"took longer than 10 s of processor time; refused"):
        run_sandboxed(_burn_cpu, "busy.pdf", b"", FileLimits(max_seconds=10), "pdf")


def test_sandbox_has_no_network() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        decoded = run_sandboxed(_connect, "net.html", str(port).encode(), LIMITS, "html")
    assert decoded.text == "network access is disabled while reading a file"


def test_sandbox_overhead_is_small_once_started() -> None:
    warm_up()
    times = []
    for _ in range(5):
        started = time.perf_counter()
        warm_up()
        times.append(time.perf_counter() - started)
    print(f"sandbox round trip p50 {statistics.median(times) * 1000:.1f} ms")
    assert statistics.median(times) < 0.5


def test_decoded_file_from_plain_checks_every_field() -> None:
    good = DecodedFile(text="a\nb", file_type="pdf", encoding="", line_pages=(1, 2), notes=("x",))
    assert DecodedFile.from_plain(good.to_plain()) == good
    for bad in ({"text": 1}, {"text": "a", "file_type": "exe"}, {"text": "a", "file_type": "pdf", "line_pages": ["1"]}):
        with pytest.raises(ValueError):
            DecodedFile.from_plain(bad)
