"""Source formats and their variations: 发言摘登 pages, Markdown, JSONL (fixtures in tests/fixtures/documents)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rag.corpus import Document, build_document, organization_in_pinyin, paragraph_from_source
from rag.errors import CorpusError
from rag.parsers import parse_source, source_suffixes
from rag.parsers.people import Introduction, with_referenced_organization
from rag.parsers.titles import split_organization, split_title_and_organization
from rag.parsers.zhaideng import is_photo_credit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "documents"
PAGE = Path(__file__).resolve().parent.parent / "corpus" / "wenhua-keji-zuotanhui.txt"


def load(name: str) -> Document:
    path = FIXTURES / name
    return build_document(path, path.read_bytes())


def parse_text(name: str, text: str) -> Document:
    return build_document(Path(name), text.encode("utf-8"))


def speeches(doc: Document) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in doc.chunks:
        if c.kind == "speech":
            out.setdefault(c.speaker, []).append(c.text)
    return out


def by_name(doc: Document) -> dict[str, tuple[str, str]]:
    return {s.name: (s.title, s.organization) for s in doc.speakers if s.kind == "person"}


@pytest.mark.parametrize("path", [*sorted(FIXTURES.iterdir()), PAGE], ids=lambda p: p.name)
def test_every_paragraph_is_rebuilt_from_its_source_lines(path: Path) -> None:
    doc = build_document(path, path.read_bytes())
    assert doc.chunks and any(c.kind == "speech" for c in doc.chunks)
    for c in doc.chunks:
        assert paragraph_from_source(doc.source_text, c.lines) == c.text
        assert c.id == f"{doc.info.slug}-p{c.number}"
    assert [c.number for c in doc.chunks] == list(range(1, len(doc.chunks) + 1))


def test_formats_are_registered_by_suffix() -> None:
    assert {".txt", ".md", ".markdown", ".jsonl", ".html", ".docx", ".pdf"} <= set(source_suffixes())
    for name, fmt in [("a.TXT", "zhaideng"), ("a.md", "markdown"), ("a.jsonl", "jsonl")]:
        data = (
            FIXTURES
            / {"zhaideng": "zhaideng-plain.txt", "markdown": "markdown-zh.md", "jsonl": "jsonl-forum.jsonl"}[fmt]
        ).read_bytes()
        assert parse_source(Path(name), data)[1].format == fmt


# ---------------------------------------------------------------- 发言摘登 variations


def test_full_width_brackets_headlines_inline_editor_note_and_other_credit() -> None:
    doc = load("zhaideng-fullwidth.txt")
    assert doc.info.title == "推动文旅产业高质量发展"
    assert doc.info.subtitle == "湖南文旅企业恳谈会发言摘登"
    assert Counter(c.speaker for c in doc.chunks) == {"编者按": 1, "李明": 2, "周洁": 2, "陈晓东": 2}
    note = doc.chunks[0]
    # The note starts on the `编者按：` line itself: kept whole so the chunk stays verbatim.
    assert note.kind == "editor_note" and note.text.startswith("编者按：10月18日")
    assert note.text.endswith("入境旅游等话题畅所欲言。现摘登部分发言。") and note.lines == (5, 7)
    headlines = {c.speaker: c.headline for c in doc.chunks if c.kind == "speech"}
    assert headlines == {
        "李明": "让数字技术点亮景区夜经济",
        "周洁": "用好“文化+科技”，讲好湖南故事",
        "陈晓东": "入境游要在便利化上下功夫",
    }
    texts = " ".join(c.text for c in doc.chunks)
    assert "摄" not in texts and "李健" not in texts  # the credit line `（湖南日报全媒体记者 李健 摄）`
    assert not any(c.text in {"李明", "周  洁", "陈晓东"} for c in doc.chunks)  # photo captions


def test_layout_breaks_are_joined_in_every_variation() -> None:
    full = speeches(load("zhaideng-fullwidth.txt"))
    assert full["李明"][0] == "张家界的山水是天下独有的资源，我们要让游客白天看山、晚上也有去处。"
    assert full["周洁"][1].endswith("走进湖南的古城古镇。")
    assert "完善外卡支付和多语种导览服务。" in full["陈晓东"][0]
    plain = speeches(load("zhaideng-plain.txt"))
    assert plain["王芳"][1] == "出版社要主动拥抱人工智能，把编辑的经验沉淀为可复用的工具。"


def test_title_naming_the_organisation_is_split() -> None:
    full = by_name(load("zhaideng-fullwidth.txt"))
    assert full["李明"] == ("董事长", "张家界旅游集团股份有限公司")
    assert full["周洁"] == ("副台长", "湖南广播电视台")  # a spaced name `周  洁` is one name
    assert full["陈晓东"] == ("副厅长", "湖南省文化和旅游厅")  # speaker line broken across two lines
    plain = by_name(load("zhaideng-plain.txt"))
    assert plain["王芳"] == ("总编辑", "中南出版传媒集团")
    assert plain["赵强"] == ("新闻与传播学院教授", "湖南大学")
    assert plain["孙悦"] == ("自由撰稿人", "")


def test_page_without_headlines_editor_note_and_with_a_caption_row() -> None:
    doc = load("zhaideng-plain.txt")
    assert doc.info.title == "数字出版的新机遇" and doc.info.subtitle == "出版界人士座谈发言"
    assert not any(c.kind == "editor_note" for c in doc.chunks)
    assert {c.headline for c in doc.chunks} == {""}
    assert Counter(c.speaker for c in doc.chunks) == {"王芳": 2, "赵强": 2, "孙悦": 1}
    assert not any("主办方" in c.text or "王芳  赵强" in c.text for c in doc.chunks)


def test_title_or_subtitle_right_before_a_speaker_is_not_a_headline() -> None:
    doc = parse_text("bare.txt", "乡村振兴里的文化力量\n\n张华（湖南省文化馆馆长）\n\n文化下乡要常态化。\n")
    assert doc.info.title == "乡村振兴里的文化力量"
    assert [(c.speaker, c.headline, c.text) for c in doc.chunks] == [("张华", "", "文化下乡要常态化。")]
    doc = parse_text("sub.txt", "标题\n\n——座谈会发言摘登\n\n张华(馆长)\n\n文化下乡要常态化。\n")
    assert doc.info.subtitle == "座谈会发言摘登" and doc.chunks[0].headline == ""


@pytest.mark.parametrize(
    "line",
    [
        "本版照片均为湖南日报全媒体记者 刘尚文 摄",
        "（湖南日报全媒体记者 李健 摄）",
        "本版图片由主办方提供",
        "图/湖南日报全媒体记者 童迪",
        "摄影：李健",
        "受访者供图",
        "图片来源：湖南日报",
    ],
)
def test_photo_credit_lines(line: str) -> None:
    assert is_photo_credit(line)


@pytest.mark.parametrize(
    "line",
    ["与湖南“强强联合”，将文化内核做强", "湖南要打造中国版的Adobe", "让数字技术点亮景区夜经济", "图书馆里的新变化"],
)
def test_headlines_are_not_photo_credits(line: str) -> None:
    assert not is_photo_credit(line)


def test_speaker_without_paragraphs_names_the_line() -> None:
    with pytest.raises(CorpusError, match="speaker 张华 has no paragraphs") as err:
        parse_text("x.txt", "标题\n\n张华（馆长）\n")
    assert err.value.line == 3


# ---------------------------------------------------------------- titles


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("中国移动通信集团有限公司副总经理", ("中国移动通信集团有限公司", "副总经理")),
        (
            "中国电信集团有限公司文宣行业事业部总裁、文宣产业研究院院长",
            ("中国电信集团有限公司", "文宣行业事业部总裁、文宣产业研究院院长"),
        ),
        ("湖南广播电视台台长", ("湖南广播电视台", "台长")),
        ("马栏山视频文创产业园管委会副主任", ("马栏山视频文创产业园管委会", "副主任")),
        ("湖南省博物馆馆长", ("湖南省博物馆", "馆长")),
        ("党委书记、董事长", ("", "党委书记、董事长")),
        ("创始人", ("", "创始人")),
    ],
)
def test_split_organization(raw: str, expected: tuple[str, str]) -> None:
    assert split_organization(raw) == expected


@pytest.mark.parametrize(
    ("inner", "expected"),
    [
        ("副总经理，中国移动通信集团有限公司", ("副总经理", "中国移动通信集团有限公司")),
        ("党委书记、董事长，中国广播电视网络集团有限公司", ("党委书记、董事长", "中国广播电视网络集团有限公司")),
        ("Chairman, iFLYTEK", ("Chairman", "iFLYTEK")),
        (
            "Vice President, China Mobile Communications Group Co., Ltd.",
            ("Vice President", "China Mobile Communications Group Co., Ltd."),
        ),
        ("科大讯飞股份有限公司董事长", ("董事长", "科大讯飞股份有限公司")),
        ("Chairman", ("Chairman", "")),
        ("", ("", "")),
    ],
)
def test_split_title_and_organization(inner: str, expected: tuple[str, str]) -> None:
    assert split_title_and_organization(inner) == expected


# ---------------------------------------------------------------- Markdown


def test_markdown_chinese() -> None:
    doc = load("markdown-zh.md")
    info = doc.info
    assert (info.title, info.subtitle, info.date, info.source, info.format) == (
        "打造更多文化科技融合的湖南样本",
        "马栏山视频文创产业园企业座谈会发言摘登",
        "2024年11月5日",
        "湖南日报",
        "markdown",
    )
    assert by_name(doc) == {
        "刘洋": ("总经理", "芒果超媒股份有限公司"),
        "何静": ("副主任", "马栏山视频文创产业园管委会"),
    }
    note = [c for c in doc.chunks if c.kind == "editor_note"]
    assert [c.text for c in note] == [
        "11月5日，马栏山视频文创产业园召开企业座谈会，园区企业围绕视频技术创新和人才培养建言献策。"
    ]
    liu = [c for c in doc.chunks if c.speaker == "刘洋"]
    assert [c.headline for c in liu] == ["用技术让好内容走得更远", "用技术让好内容走得更远", "人才是第一资源"]
    assert liu[0].text == "我们今年在超高清制作和虚拟拍摄上投入了大量资源，目前已有十余档节目采用虚拟制片。"
    assert not any("photo.jpg" in c.text or "童迪" in c.text for c in doc.chunks)


def test_markdown_english() -> None:
    doc = load("markdown-en.md")
    assert doc.info.title == "Culture and Technology: Voices from Changsha"
    assert by_name(doc) == {
        "Zhang Dong": ("Vice President", "China Mobile Communications Group Co., Ltd."),
        "Liu Qingfeng": ("Chairman", "iFLYTEK"),
    }
    first = doc.chunks[0]
    assert first.text == "China Mobile will keep investing in computing power for the culture industry in Hunan."
    assert first.lines == (5, 6)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("# 标题\n\n只有一段话。\n", "no speaker heading found", 1),
        ("# 标题\n\n## 张华（馆长）\n\n## 李四（馆长）\n\n有话。\n", "speaker 张华 has no paragraphs", 3),
        ("# 标题\n\n## 张华（馆长）\n\n有话。\n\n# 第二个标题\n", "a second `#` title", 7),
        ("---\ntitle: 标题\ndate: 9月30日\n", "never closed", 1),
        ("---\ntitle: 标题\n\n## 张华（馆长）\n\n有话。\n", "must read `key: value`", 6),
        ("# 标题\n\n### 小标题\n\n## 张华（馆长）\n\n有话。\n", "before the first", 3),
    ],
)
def test_markdown_refusals_name_the_line(text: str, message: str, line: int) -> None:
    with pytest.raises(CorpusError, match=message) as err:
        parse_text("bad.md", text)
    assert err.value.line == line and "bad.md" in str(err.value)


def test_markdown_front_matter_title_wins_and_bare_speaker_heading() -> None:
    doc = parse_text("x.md", "---\ntitle: 正式标题\nslug: ignored\n---\n# 页面标题\n\n## 张华\n\n有话。\n")
    assert doc.info.title == "正式标题"
    assert by_name(doc) == {"张华": ("", "")}


# ---------------------------------------------------------------- JSONL


def test_jsonl_records() -> None:
    doc = load("jsonl-forum.jsonl")
    info = doc.info
    assert (info.title, info.subtitle, info.date, info.source, info.format) == (
        "人工智能赋能文化创作",
        "湘江AI论坛发言摘登",
        "2024年12月2日",
        "湖南日报",
        "jsonl",
    )
    assert by_name(doc) == {"刘庆峰": ("董事长", "科大讯飞股份有限公司"), "陈静": ("馆长", "湖南省博物馆")}
    assert [(c.kind, c.speaker, c.lines) for c in doc.chunks] == [
        ("editor_note", "编者按", (2,)),
        ("speech", "刘庆峰", (3,)),
        ("speech", "刘庆峰", (4,)),
        ("speech", "陈静", (6,)),
        ("speech", "陈静", (7,)),
    ]
    assert doc.chunks[2].text == "我们愿意与湖南高校共建人工智能学院，培养复合型人才。"  # a line break inside `text`
    assert doc.chunks[1].headline == "大模型让文化创作更高效" and doc.chunks[3].headline == ""
    # The text paragraphs are verified against holds each record's text on the record's line.
    assert doc.source_text.splitlines()[5] == "数字化让文物“活”了起来。"


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('{"speaker": "张华", "text": "有话。"}\n{"speaker": "张华", "text": \n', "not valid JSON", 2),
        ('["张华", "有话。"]\n', "must be a JSON object", 1),
        ('{"speaker": "张华"}\n', "no `text` string", 1),
        ('{"speaker": "张华", "text": "  \\n "}\n', "`text` is empty", 1),
        ('{"speaker": 7, "text": "有话。"}\n', "`speaker` must be a string", 1),
        ('{"text": "有话。"}\n', "has no `speaker`", 1),
        ('{"kind": "editor_note", "text": "只有编者按。"}\n', "no speaker paragraph found", 1),
        ('{"kind": "aside", "speaker": "张华", "text": "有话。"}\n', "`kind` must be", 1),
        ('{"document": "标题"}\n{"speaker": "张华", "text": "有话。"}\n', "`document` must be an object", 1),
    ],
)
def test_jsonl_refusals_name_the_line(text: str, message: str, line: int) -> None:
    with pytest.raises(CorpusError, match=message) as err:
        parse_text("bad.jsonl", text)
    assert err.value.line == line and "bad.jsonl" in str(err.value)


def _intro(title: str) -> Introduction:
    return Introduction(0, 0, "王某", "王某", title, "")


def test_an_organisation_is_taken_from_the_text_before_only_when_it_is_clear() -> None:
    before = "为项目提供方案的，是本地企业青岚数智建设有限公司。"
    found = with_referenced_organization(_intro("公司副总经理"), before, before)
    assert (found.organization, found.title) == ("青岚数智建设有限公司", "副总经理")
    # A bare title takes an organisation of its kind only when exactly one is named.
    one = "南岭理工大学2024届毕业典礼在学校体育馆举行。"
    assert with_referenced_organization(_intro("校长"), one, one).organization == "南岭理工大学"
    two = "南岭理工大学与青岚师范大学签署合作协议。"
    assert with_referenced_organization(_intro("校长"), two, two).organization == ""
    # Nothing of that kind before: the title stays as printed.
    assert with_referenced_organization(_intro("公司总工程师"), one, one) == _intro("公司总工程师")


@pytest.mark.parametrize(
    ("organization", "english"),
    [
        ("南岭理工大学", ("Nanling University", "Nanling Ligong University")),
        ("青屿博物院", ("Qingyu Museum",)),
        ("潮汐工业互联网有限公司", ("Chaoxi Company", "Chaoxi Gongye Hulian Wang Company")),
        ("县商务局", ()),  # a kind of organisation without an English word here: nothing
    ],
)
def test_organisations_in_pinyin_for_english_questions(organization: str, english: tuple[str, ...]) -> None:
    assert organization_in_pinyin(organization) == english
