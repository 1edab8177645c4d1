"""The newspaper page parser and chunking, on the real page and on bad input."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest

from rag.corpus import build_document, load_corpus, paragraph_from_source, read_meta, split_title
from rag.errors import CorpusError
from rag.textutil import split_sentences

PAGE = Path(__file__).resolve().parent.parent / "corpus" / "wenhua-keji-zuotanhui.txt"


@pytest.fixture(scope="module")
def doc():
    return build_document(PAGE, PAGE.read_bytes(), read_meta(PAGE))


def test_paragraph_counts_per_speaker(doc) -> None:
    counts = Counter(c.speaker for c in doc.chunks)
    assert counts == {
        "编者按": 2,
        "张冬": 5,
        "宋起柱": 4,
        "徐守峰": 3,
        "张平安": 4,
        "刘庆峰": 3,
        "王杰": 4,
        "徐少春": 3,
        "吴太兵": 5,
        "李新宇": 3,
    }
    assert sum(1 for c in doc.chunks if c.kind == "speech") == 34
    assert [c.kind for c in doc.chunks[:2]] == ["editor_note", "editor_note"]


def test_title_subtitle_and_metadata(doc) -> None:
    assert doc.info.title == "汇聚强大合力，加快推进文化和科技融合发展"
    assert doc.info.subtitle == "文化科技企业座谈会发言摘登"
    assert doc.info.source == "湖南日报"
    assert doc.info.event["place"] == "长沙"
    by_name = {s.name: s for s in doc.speakers}
    assert by_name["刘庆峰"].organization == "科大讯飞股份有限公司"
    assert by_name["刘庆峰"].title == "董事长"
    assert "讯飞" in by_name["刘庆峰"].org_aliases
    assert by_name["张平安"].organization_en == "Huawei Cloud"
    assert by_name["王杰"].name_en == "Wang Jie"
    assert by_name["编者按"].kind == "document"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("抢抓", "发展机遇"),
        ("发力", "“5G+”和“AI+”"),
        ("视频文创专业", "模型，在设备自主可控"),
        ("市场和销量，", "还需要强大的汽车文化"),
        ("企业管理云服务公司，", "也是一家文化加科技的企业"),
        ("研发自有的音视", "频“大脑”"),
        ("进行了全面的", "战略合作。"),
    ],
)
def test_layout_breaks_are_repaired(doc, before: str, after: str) -> None:
    joined = [c for c in doc.chunks if before + after in c.text]
    assert len(joined) == 1, f"{before}|{after} should be inside exactly one paragraph"
    assert len(joined[0].lines) == 2
    assert not any(c.text.endswith(before) for c in doc.chunks)


def test_parenthesis_inside_a_paragraph_is_not_a_speaker_line(doc) -> None:
    adobe = [c for c in doc.chunks if "Adobe(美国的一家电脑软件公司" in c.text]
    assert len(adobe) == 1 and adobe[0].speaker == "吴太兵"
    assert "Adobe" not in {s.name for s in doc.speakers}


def test_photo_captions_and_credit_are_not_content(doc) -> None:
    assert not any("本版照片" in c.text for c in doc.chunks)
    assert not any(c.text in {"张冬", "李新宇"} for c in doc.chunks)


def test_every_chunk_equals_the_source_with_layout_breaks_removed(doc) -> None:
    source = PAGE.read_text(encoding="utf-8")
    for c in doc.chunks:
        assert paragraph_from_source(source, c.lines) == c.text
        assert c.text in source.replace("\n\n", "") or len(c.lines) > 1
        if len(c.lines) == 1:
            assert c.text in source


def test_ids_offsets_and_headlines(doc) -> None:
    ids = [c.id for c in doc.chunks]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "wenhua-keji-zuotanhui-p1" and ids[-1] == "wenhua-keji-zuotanhui-p36"
    zhang = [c for c in doc.chunks if c.speaker == "张冬"]
    assert zhang[0].start == 0
    assert zhang[1].start == zhang[0].end + 2
    assert {c.headline for c in zhang} == {"与湖南“强强联合”，将文化内核做强"}
    assert {c.headline for c in doc.chunks if c.speaker == "吴太兵"} == {"湖南要打造中国版的Adobe"}


def test_sentences_cover_paragraphs_without_cutting_quotes(doc) -> None:
    for c in doc.chunks:
        spans = split_sentences(c.text)
        assert spans and spans[0][0] == 0 and spans[-1][1] == len(c.text)
        for (_, e1), (s2, _) in itertools.pairwise(spans):
            assert e1 <= s2
        for s, e in spans:
            sentence = c.text[s:e]
            assert sentence.count("“") == sentence.count("”"), sentence


def test_split_title_without_metadata() -> None:
    assert split_title("中国电信集团有限公司文宣行业事业部总裁") == ("中国电信集团有限公司", "文宣行业事业部总裁")
    assert split_title("金蝶国际软件集团创始人") == ("金蝶国际软件集团", "创始人")


@pytest.mark.parametrize(
    ("data", "message", "line"),
    [
        (b"", "empty", None),
        (b"   \n\n  ", "empty", None),
        ("标题\n\n".encode() + b"\x00\x01\x02binary", "binary", 3),
        (
            "标题\n\n张三(董事长)\n\n".encode() + b"\xff\xfe bad",
            "the file mixes encodings: line 1 is UTF-8 but line 5",
            5,
        ),
        ("标题\n\n只有一段话，没有发言人。\n".encode(), "no format found a speaker: 发言摘登 expected", None),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, data: bytes, message: str, line: int | None) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(CorpusError) as err:
        build_document(path, data)
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert err.value.line == line


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "speech.xyz"
    with pytest.raises(CorpusError, match=r"unknown file type `\.xyz`"):
        build_document(path, "张三（董事长）\n\n我们要做好服务。\n".encode())


def test_load_corpus_reads_the_project_corpus() -> None:
    docs = load_corpus(PAGE.parent)
    assert [d.info.slug for d in docs][:1] == ["wenhua-keji-zuotanhui"]
    assert sum(len(d.chunks) for d in docs if d.info.slug == "wenhua-keji-zuotanhui") == 36
