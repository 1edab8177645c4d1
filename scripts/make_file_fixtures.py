"""Make the document-file fixtures in tests/fixtures/files/ from the invented source texts below.

Needs (none of it is a project dependency, and CI never runs this script: its outputs are committed):
- LibreOffice Writer, headless, with CJK fonts, and poppler-utils and img2pdf for the scanned PDF:
      apt-get install -y -q --no-install-recommends libreoffice-writer-nogui fonts-noto-cjk poppler-utils img2pdf
- in the project venv: pypdf (encrypted PDFs) and msoffcrypto-tool (MIT; the encrypted .docx):
      pip install 'pypdf>=5,<8' 'msoffcrypto-tool>=5,<7'

Run from the repository root: `python scripts/make_file_fixtures.py`. Word and PDF files are written by
LibreOffice from flat-ODT sources built here, so they are what a real office suite produces (styles, text
boxes, tables, headers and footers, two-column sections); text files are encoded with Python's codecs;
HTML pages are written here with the boilerplate a saved article page carries. Every text is invented.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "files"

# ---------------------------------------------------------------------------------------------------------
# Source texts (invented; any resemblance to real people or organisations is accidental)
# ---------------------------------------------------------------------------------------------------------

FORUM_TITLE = "以数字创意激活文化产业新动能"
FORUM_SUBTITLE = "——2024星沙文化产业论坛嘉宾发言摘登"
FORUM_NOTE = (
    "编者按：3月5日，2024星沙文化产业论坛在星沙举行。来自出版、动漫、演艺和数字科技领域的嘉宾围绕"
    "“数字创意与文化消费”展开交流。现将部分发言摘登如下。"
)
FORUM_SECTIONS = (
    (
        "让传统文化在屏幕上“活”起来",
        "李晓明（星河文化传媒集团董事长）",
        (
            "这几年我们最大的体会是，好内容永远是第一位的。2023年，集团出品的动画系列在各平台累计播放超过12亿次，"
            "其中七成观众是“00后”。",
            "我们正在做三件事：一是建设数字资产库，把两千多件馆藏文物做成高精度三维模型；二是和高校合作培养既懂技术"
            "又懂艺术的复合型人才；三是探索“线上看展、线下体验”的新模式。",
            "文化企业要敢于拥抱AI，但不能把创作交给机器。技术是笔，故事还得由人来写。",
        ),
    ),
    (
        "演艺新空间要留住年轻人",
        "周雅琴（湖湘演艺集团总经理）",
        (
            "去年我们在老城区改造了三处小剧场，全年演出一千二百余场，上座率保持在85%以上。",
            "年轻观众需要的不只是一场演出，而是一种可以分享的体验。我们把剧场、书店和咖啡馆放在一起，演出结束后观众"
            "还愿意留下来聊一聊。",
            "下一步，我们希望与更多城市合作，把优秀剧目带到县城和乡镇去。",
        ),
    ),
)
FORUM_HEADER = "星沙文化产业论坛材料汇编"

INTERVIEW_TITLE = "把非遗做成年轻人喜欢的产品"
INTERVIEW_SUBTITLE = "——访湘绣传承人王秀兰"
INTERVIEW_BYLINE = "本报记者　陈明"
INTERVIEW_LEAD = "在星沙老街一间不大的工作室里，记者见到了正在指导学徒的王秀兰。她从事湘绣已有四十多年。"
INTERVIEW_QA = (
    ("记者", "您从事湘绣已经四十多年了，最近几年最大的变化是什么？"),
    ("王秀兰", "最大的变化是买湘绣的人变年轻了。过去来店里的多是中老年顾客，现在一半以上是二三十岁的年轻人。"),
    ("记者", "年轻人喜欢什么样的作品？"),
    (
        "王秀兰",
        "他们喜欢小而精的东西，比如绣在手机壳、书签上的图案。我们去年推出的“星空”系列书签，三个月卖出了两万多套。",
    ),
    ("记者", "您怎么看待机器刺绣对手工湘绣的冲击？"),
    ("王秀兰", "机器可以绣得很快，但一针一线里的温度，机器给不了。我们要做的是让更多人看见手工的价值。"),
)
INTERVIEW_CLOSING = "采访结束时，王秀兰说，她最大的心愿是每年都能带出几个真正坐得住的徒弟。"
INTERVIEW_BOX = "记者手记：四十多年来，王秀兰的工作台换过三次，绣针却一直是同一个牌子。"

NEWS_TITLE = "我市文化产业增加值首次突破千亿元"
NEWS_PARAGRAPHS = (
    "本报讯（记者 刘洋）3月4日，市统计局发布数据显示，2023年全市文化产业增加值达1035亿元，同比增长8.6%，"
    "占地区生产总值的比重提高到7.2%。",
    "“文化产业已经成为全市经济增长的重要引擎。”市委宣传部副部长张立群说，数字文化、创意设计和文旅融合三个领域"
    "贡献了六成以上的增量。",
    "市统计局副局长赵敏介绍，全市规模以上文化企业达1280家，比上年增加136家；文化新业态企业营业收入增长15.3%，"
    "增速高于全部文化企业6.1个百分点。",
    "在星沙Creative Hub创意园，入驻的两百多家企业去年营业收入超过80亿元。园区负责人说，园区正在建设一个面向中小"
    "企业的数字内容公共服务平台。",
    "张立群说，下一步将实施“文化+科技”十大工程，力争到2025年培育10家营业收入超百亿元的文化企业。",
    "“我们会在土地、资金和人才上给予更大支持。”市发展改革委主任孙建华说，今年将安排专项资金5亿元，重点支持数字"
    "出版、网络视听和动漫游戏项目。",
    "孙建华说，专项资金将采取“以奖代补”的方式发放，项目建成投产后按实际投资额给予补助，最高不超过2000万元。",
    "据了解，今年全市还将举办第三届星沙文化创意博览会，预计参展企业超过600家，其中数字文化企业占比不低于四成。",
)
NEWS2_TITLE = "古镇夜游带火“夜经济”"
NEWS2_PARAGRAPHS = (
    "本报讯（记者 何佳）春节以来，星沙古镇推出的沉浸式夜游项目吸引游客超过40万人次，带动周边餐饮、住宿收入"
    "同比增长三成。",
    "“以前晚上八点以后街上就没什么人了，现在十点多还很热闹。”在古镇经营茶馆二十年的刘桂芳说。",
    "古镇管委会主任吴卫东介绍，夜游项目把灯光秀、实景演出和非遗展示串成一条线，游客可以边走边看。",
    "吴卫东说，今年古镇还将新增两条夜游线路，并与周边景区推出联票，让游客“白天看山水，晚上游古镇”。",
)
NEWS_HEADER = "星沙日报　文化周刊"
NEWS_SITE = "星沙新闻网"

PRESS_TITLE = "市政府新闻办举行2024年文化惠民工程新闻发布会"
PRESS_LINES = (
    "时间：2024年3月5日上午10时",
    "地点：市政府新闻发布厅",
    "主持人：各位记者朋友，大家上午好！欢迎参加市政府新闻办今天举行的新闻发布会。今天，我们请来了市文化和旅游局局长"
    "陈国强、市财政局副局长刘敏，向大家介绍2024年文化惠民工程有关情况，并回答大家关心的问题。",
    "陈国强：各位记者朋友，大家好！2024年，我市将继续实施文化惠民工程，重点抓好公共文化设施提质、群众文化活动"
    "品牌打造和文化服务数字化三项工作。全年计划新建和改造城市书房30个、乡镇综合文化站15个，举办各类群众文化活动"
    "不少于5000场次。",
    "1、新华社记者：今年的文化惠民工程在服务基层方面有哪些新举措？",
    "陈国强：谢谢您的提问。今年我们最大的变化是把服务送到群众家门口。一是推行“点单式”服务，群众在手机上点单，"
    "文化馆按需配送演出和培训；二是在每个乡镇培育至少两支群众文艺团队，让群众从“看戏的人”变成“演戏的人”；"
    "三是建立服务效果评价制度，由群众来打分，分数低的项目第二年要调整。",
    "2、星沙日报记者：文化惠民工程的资金保障情况如何？",
    "刘敏：今年市财政安排文化惠民资金3.2亿元，比上年增长12%。资金分配将向农村和偏远地区倾斜，其中用于乡镇和村一级"
    "的资金不低于60%。同时，我们将对资金使用情况开展绩效评价，确保每一分钱都花在群众需要的地方。",
    "3、红网记者：城市书房建成后如何保证持续运营？",
    "陈国强：城市书房不能“建成之日就是闲置之时”。我们采取政府建设、社会力量参与运营的方式，引入书店、咖啡馆等"
    "经营主体，延长开放时间。去年建成的城市书房，平均每天开放13个小时，日均接待读者超过200人次。",
    "4、湖南卫视记者：文化服务数字化具体包括哪些内容？",
    "陈国强：主要是三个方面。第一，建设全市统一的公共文化云平台，群众可以在线预约场馆、报名活动；第二，推动图书馆、"
    "博物馆、美术馆的优质资源上线，今年新增数字资源不少于50TB；第三，利用数据分析群众的文化需求，让服务更精准。",
    "主持人：今天的新闻发布会到此结束。谢谢各位发布人，谢谢各位记者朋友！",
)
PRESS_HEADER = "星沙市人民政府新闻办公室"

# The text layer of some Chinese PDFs carries radical code points and spaces around Latin text; writing
# them into the source text makes LibreOffice put them into the text layer the same way.
RADICALS_LINES = (
    "⻄部地区⽂化产业发展报告",
    "⻄部⽂化产业研究院院⻓　赵⽂博",
    "近年来，⻄部地区的⽂化产业保持较快增⻓，⻓沙、⻄安等城市的⽂创⻔店数量明显增加，⻝品与⽂旅融合的新业态不断涌现。",
    "我们 2024 年的目标是新增 AI 创作平台 3 个，吸引 Creative Hub 等机构入驻，带动就业 5000 人。",
)
RADICALS_EXPECTED = (
    "西部地区文化产业发展报告",
    "西部文化产业研究院院长　赵文博",
    "近年来，西部地区的文化产业保持较快增长，长沙、西安等城市的文创门店数量明显增加，食品与文旅融合的新业态不断涌现。",
    "我们2024年的目标是新增AI创作平台3个，吸引Creative Hub等机构入驻，带动就业5000人。",
)

TRAD_TITLE = "文化創意產業的下一個十年"
TRAD_LINES = (
    TRAD_TITLE,
    "林志遠（臺灣文創發展協會理事長）",
    "各位來賓、各位朋友，大家好。今天很榮幸能在這裡和大家分享我對文化創意產業的一些觀察。",
    "過去十年，我們看到許多年輕人回到家鄉，把老房子改造成書店、咖啡館和工作室。這些小小的空間，讓地方重新有了生命力。",
    "未來十年，我認為有三個關鍵：第一是數位轉型，第二是國際合作，第三是人才培育。沒有人才，一切都無從談起。",
    "謝謝大家。",
)

# A zhaideng-format page, as staff keep them in GBK (Windows Notepad's "ANSI" on a Chinese system).
GBK_LINES = (
    FORUM_TITLE,
    FORUM_SUBTITLE,
    FORUM_NOTE,
    *[line for headline, speaker, paras in FORUM_SECTIONS for line in (headline, speaker, *paras)],
)
# GB18030 beyond GBK: a name with a character from CJK Extension B (four bytes in GB18030).
GB18030_LINES = (
    "非遗传承人座谈会发言",
    "刘𠮷（星沙市非遗保护中心主任）",
    "我们建立了非遗传承人档案，全市共有省级以上传承人86名。今年要为每一位传承人录制一部口述史。",
)
UTF16_LINES = (
    INTERVIEW_TITLE + INTERVIEW_SUBTITLE,
    *[f"{who}：{what}" for who, what in INTERVIEW_QA],
)

# ---------------------------------------------------------------------------------------------------------
# Flat ODT, converted by LibreOffice
# ---------------------------------------------------------------------------------------------------------

FODT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
 xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
<office:meta><dc:title>{title}</dc:title><dc:creator>{author}</dc:creator></office:meta>
<office:font-face-decls>
 <style:font-face style:name="CJK" svg:font-family="'{cjk_font}'"/>
 <style:font-face style:name="Latin" svg:font-family="'DejaVu Serif'"/>
</office:font-face-decls>
<office:styles>
 <style:default-style style:family="paragraph">
  <style:paragraph-properties fo:margin-bottom="0.15cm"/>
  <style:text-properties style:font-name="Latin" fo:font-size="{size}" style:font-name-asian="CJK"
   style:font-size-asian="{size}" fo:language="zh" fo:country="{country}" style:language-asian="zh"
   style:country-asian="{country}"/>
 </style:default-style>
 <style:style style:name="Standard" style:family="paragraph" style:class="text"/>
 <style:style style:name="Heading_20_1" style:display-name="Heading 1" style:family="paragraph"
  style:default-outline-level="1">
  <style:paragraph-properties fo:text-align="center" fo:margin-bottom="0.3cm"/>
  <style:text-properties fo:font-size="18pt" style:font-size-asian="18pt" fo:font-weight="bold"
   style:font-weight-asian="bold"/>
 </style:style>
 <style:style style:name="Heading_20_2" style:display-name="Heading 2" style:family="paragraph"
  style:default-outline-level="2">
  <style:paragraph-properties fo:margin-top="0.3cm"/>
  <style:text-properties fo:font-size="13pt" style:font-size-asian="13pt" fo:font-weight="bold"
   style:font-weight-asian="bold"/>
 </style:style>
 <style:style style:name="Subtitle" style:family="paragraph">
  <style:paragraph-properties fo:text-align="center" fo:margin-bottom="0.3cm"/>
 </style:style>
 <style:style style:name="Speaker" style:family="paragraph">
  <style:text-properties fo:font-weight="bold" style:font-weight-asian="bold"/>
 </style:style>
 <style:style style:name="Header" style:family="paragraph">
  <style:paragraph-properties fo:text-align="center"/>
  <style:text-properties fo:font-size="9pt" style:font-size-asian="9pt"/>
 </style:style>
 <style:style style:name="Footer" style:family="paragraph">
  <style:paragraph-properties fo:text-align="center"/>
  <style:text-properties fo:font-size="9pt" style:font-size-asian="9pt"/>
 </style:style>
</office:styles>
<office:automatic-styles>
 <style:page-layout style:name="pm1">
  <style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm" fo:margin-top="1.5cm"
   fo:margin-bottom="1.5cm" fo:margin-left="2cm" fo:margin-right="2cm"/>
  <style:header-style><style:header-footer-properties fo:min-height="0.8cm" fo:margin-bottom="0.4cm"/>
  </style:header-style>
  <style:footer-style><style:header-footer-properties fo:min-height="0.8cm" fo:margin-top="0.4cm"/>
  </style:footer-style>
 </style:page-layout>
 <style:style style:name="Tbold" style:family="text">
  <style:text-properties fo:font-weight="bold" style:font-weight-asian="bold"/>
 </style:style>
 <style:style style:name="Sect2" style:family="section">
  <style:section-properties><style:columns fo:column-count="2" fo:column-gap="0.8cm"/></style:section-properties>
 </style:style>
 <style:style style:name="Sect3" style:family="section">
  <style:section-properties><style:columns fo:column-count="3" fo:column-gap="0.6cm"/></style:section-properties>
 </style:style>
 <style:style style:name="Break" style:family="paragraph" style:parent-style-name="Heading_20_1">
  <style:paragraph-properties fo:break-before="page"/>
 </style:style>
 <style:style style:name="Box" style:family="graphic">
  <style:graphic-properties style:wrap="none" style:vertical-pos="top" style:vertical-rel="paragraph"
   style:horizontal-pos="center" style:horizontal-rel="paragraph" fo:border="0.06pt solid #000000"
   fo:padding="0.2cm"/>
 </style:style>
 <style:style style:name="Tab1" style:family="table">
  <style:table-properties style:width="17cm" table:align="margins"/>
 </style:style>
 <style:style style:name="Tab1.A" style:family="table-column"><style:table-column-properties style:column-width="3cm"/>
 </style:style>
 <style:style style:name="Tab1.B" style:family="table-column">
  <style:table-column-properties style:column-width="14cm"/>
 </style:style>
 <style:style style:name="Cell" style:family="table-cell">
  <style:table-cell-properties fo:border="0.06pt solid #000000" fo:padding="0.1cm"/>
 </style:style>
</office:automatic-styles>
<office:master-styles>
 <style:master-page style:name="Standard" style:page-layout-name="pm1">{header}{footer}</style:master-page>
</office:master-styles>
<office:body><office:text>
{body}
</office:text></office:body>
</office:document>
"""


def para(text: str, style: str = "Standard") -> str:
    return f'<text:p text:style-name="{style}">{escape(text)}</text:p>'


def heading(text: str, level: int = 1, style: str = "") -> str:
    name = style or f"Heading_20_{level}"
    return f'<text:h text:style-name="{name}" text:outline-level="{level}">{escape(text)}</text:h>'


def bold_para(text: str) -> str:
    """A paragraph whose only run is bold by direct formatting (Word's Ctrl+B)."""
    return f'<text:p text:style-name="Standard"><text:span text:style-name="Tbold">{escape(text)}</text:span></text:p>'


def bold_lead(label: str, rest: str) -> str:
    """A bold speaker label and the speech in one paragraph, as people type them in Word."""
    return (
        f'<text:p text:style-name="Standard"><text:span text:style-name="Tbold">{escape(label)}</text:span>'
        f"{escape(rest)}</text:p>"
    )


def text_box(paragraphs: tuple[str, ...]) -> str:
    inner = "".join(para(t) for t in paragraphs)
    return (
        '<text:p text:style-name="Standard"><draw:frame draw:style-name="Box" draw:name="Box1" '
        'text:anchor-type="paragraph" svg:width="15cm" draw:z-index="0">'
        f'<draw:text-box fo:min-height="1.5cm">{inner}</draw:text-box></draw:frame></text:p>'
    )


def table(rows: tuple[tuple[str, str], ...]) -> str:
    cells = "".join(
        "<table:table-row>"
        + "".join(
            f'<table:table-cell table:style-name="Cell" office:value-type="string">{para(c)}</table:table-cell>'
            for c in row
        )
        + "</table:table-row>"
        for row in rows
    )
    return (
        '<table:table table:name="Interview" table:style-name="Tab1">'
        '<table:table-column table:style-name="Tab1.A"/><table:table-column table:style-name="Tab1.B"/>'
        f"{cells}</table:table>"
    )


def two_columns(body: str, name: str) -> str:
    return f'<text:section text:style-name="Sect2" text:name="{name}">{body}</text:section>'


def three_columns(body: str, name: str) -> str:
    return f'<text:section text:style-name="Sect3" text:name="{name}">{body}</text:section>'


def header_footer(header: str, page_numbers: str) -> tuple[str, str]:
    """A running header and a centred page-number footer (`- N -` or `第N页`)."""
    head = f'<style:header><text:p text:style-name="Header">{escape(header)}</text:p></style:header>' if header else ""
    number = '<text:page-number text:select-page="current">1</text:page-number>'
    if page_numbers == "dash":
        foot = f'<style:footer><text:p text:style-name="Footer">- {number} -</text:p></style:footer>'
    elif page_numbers == "di":
        foot = f'<style:footer><text:p text:style-name="Footer">第{number}页</text:p></style:footer>'
    else:
        foot = ""
    return head, foot


def fodt(
    body: str,
    *,
    title: str,
    author: str = "星沙日报社",
    header: str = "",
    page_numbers: str = "",
    traditional: bool = False,
    size: str = "11pt",
) -> str:
    head, foot = header_footer(header, page_numbers)
    return FODT.format(
        title=escape(title),
        author=escape(author),
        cjk_font="Noto Serif CJK TC" if traditional else "Noto Serif CJK SC",
        country="TW" if traditional else "CN",
        size=size,
        header=head,
        footer=foot,
        body=body,
    )


def convert(work: Path, stem: str, source: str, targets: tuple[str, ...]) -> dict[str, Path]:
    """Write `stem.fodt` and let LibreOffice convert it to each target (pdf, docx, doc)."""
    src = work / f"{stem}.fodt"
    src.write_text(source, encoding="utf-8")
    filters = {"pdf": "pdf:writer_pdf_Export", "docx": "docx:MS Word 2007 XML", "doc": "doc:MS Word 97"}
    out: dict[str, Path] = {}
    for target in targets:
        subprocess.run(
            ["soffice", "--headless", "--convert-to", filters[target], "--outdir", str(work), str(src)],
            check=True,
            capture_output=True,
        )
        out[target] = work / f"{stem}.{target}"
    return out


# ---------------------------------------------------------------------------------------------------------
# The fixtures
# ---------------------------------------------------------------------------------------------------------


def forum_body(*, box: bool) -> str:
    parts = [heading(FORUM_TITLE), para(FORUM_SUBTITLE, "Subtitle")]
    parts.append(text_box((FORUM_NOTE,)) if box else para(FORUM_NOTE))
    first, second = FORUM_SECTIONS
    parts += [heading(first[0], 2), bold_para(first[1]), *[para(t) for t in first[2]]]
    # The second speaker's label is bold at the start of the first paragraph, as people type it in Word.
    parts += [heading(second[0], 2), bold_lead(second[1], second[2][0]), *[para(t) for t in second[2][1:]]]
    return "\n".join(parts)


def make_office_files(work: Path) -> None:
    forum = fodt(forum_body(box=True), title=FORUM_TITLE, header=FORUM_HEADER, page_numbers="dash")
    files = convert(work, "forum-speech", forum, ("docx", "doc"))
    copy(files["docx"], "forum-speech.docx")
    copy(files["doc"], "legacy-word97.doc")
    encrypt_docx(files["docx"], OUT / "encrypted.docx")

    qa_rows = tuple((f"{who}：", what) for who, what in INTERVIEW_QA)
    interview = "\n".join(
        [
            heading(INTERVIEW_TITLE),
            para(INTERVIEW_SUBTITLE, "Subtitle"),
            para(INTERVIEW_BYLINE),
            para(INTERVIEW_LEAD),
            text_box((INTERVIEW_BOX,)),
            table(qa_rows),
            para(INTERVIEW_CLOSING),
        ]
    )
    files = convert(work, "interview-table", fodt(interview, title=INTERVIEW_TITLE), ("docx",))
    copy(files["docx"], "interview-table.docx")

    news = "\n".join(
        [
            heading(NEWS_TITLE),
            two_columns("".join(para(t) for t in NEWS_PARAGRAPHS), "Columns1"),
            heading(NEWS2_TITLE, style="Break"),
            two_columns("".join(para(t) for t in NEWS2_PARAGRAPHS), "Columns2"),
        ]
    )
    files = convert(
        work, "news-two-column", fodt(news, title=NEWS_TITLE, header=NEWS_HEADER, page_numbers="di"), ("pdf",)
    )
    copy(files["pdf"], "news-two-column.pdf")
    news_pdf = files["pdf"]

    # Full-width lead, three columns, full-width closing paragraphs: a page whose layout changes halfway.
    mixed = "\n".join(
        [
            heading(NEWS_TITLE),
            para(NEWS2_PARAGRAPHS[0]),
            three_columns("".join(para(t) for t in NEWS_PARAGRAPHS), "Columns3"),
            *[para(t) for t in NEWS2_PARAGRAPHS[1:]],
        ]
    )
    files = convert(work, "news-three-column", fodt(mixed, title=NEWS_TITLE, size="10.5pt"), ("pdf",))
    copy(files["pdf"], "news-three-column.pdf")

    press = "\n".join([heading(PRESS_TITLE), *[para(t) for t in PRESS_LINES]])
    files = convert(
        work,
        "press-conference",
        fodt(press, title=PRESS_TITLE, header=PRESS_HEADER, page_numbers="dash", size="16pt"),
        ("pdf",),
    )
    copy(files["pdf"], "press-conference.pdf")
    encrypt_pdf(files["pdf"], OUT / "encrypted.pdf", user_password="secret")
    encrypt_pdf(files["pdf"], OUT / "owner-password-only.pdf", user_password="")
    data = files["pdf"].read_bytes()
    (OUT / "truncated.pdf").write_bytes(data[: len(data) * 2 // 3])

    radicals = "\n".join([heading(RADICALS_LINES[0]), *[para(t) for t in RADICALS_LINES[1:]]])
    files = convert(work, "radicals", fodt(radicals, title=""), ("pdf",))
    copy(files["pdf"], "radicals.pdf")

    trad = "\n".join([heading(TRAD_LINES[0]), bold_para(TRAD_LINES[1]), *[para(t) for t in TRAD_LINES[2:]]])
    files = convert(work, "traditional", fodt(trad, title=TRAD_TITLE, traditional=True), ("pdf",))
    copy(files["pdf"], "traditional.pdf")

    make_scanned(news_pdf, work)
    # A real PDF and a real .docx under each other's names.
    (OUT / "pdf-named.docx").write_bytes(news_pdf.read_bytes())
    (OUT / "docx-named.pdf").write_bytes((OUT / "interview-table.docx").read_bytes())


def make_scanned(pdf: Path, work: Path) -> None:
    """A page rendered to an image and wrapped back into a PDF: what a scanner gives, with no text layer."""
    subprocess.run(
        ["pdftoppm", "-png", "-gray", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(work / "scan")], check=True
    )
    image = next(work.glob("scan*.png"))
    subprocess.run(["img2pdf", str(image), "-o", str(OUT / "scanned.pdf")], check=True)


def encrypt_pdf(source: Path, target: Path, *, user_password: str) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    with target.open("wb") as f:
        writer.write(f)


def encrypt_docx(source: Path, target: Path) -> None:
    """Word's "Encrypt with Password": an OLE compound file holding EncryptionInfo and EncryptedPackage."""
    from msoffcrypto.format.ooxml import OOXMLFile

    with source.open("rb") as f, target.open("wb") as out:
        OOXMLFile(f).encrypt("secret", out)


def make_zip_files() -> None:
    # Not a zip at all: a text file someone renamed.
    (OUT / "fake.docx").write_bytes("这不是Word文件，只是改了扩展名的文本。\n".encode())
    # A zip bomb: a valid-looking package whose media part inflates 1000:1 (the fixture stays small).
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("word/document.xml", DOCUMENT_XML)
        z.writestr("word/media/image1.png", b"\0" * (64 * 1024 * 1024))
    (OUT / "zip-bomb.docx").write_bytes(buf.getvalue())


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="png" ContentType="image/png"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)
DOCUMENT_XML = (
    '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>压缩炸弹</w:t></w:r></w:p></w:body></w:document>"
)


def make_text_files() -> None:
    def lines(items: tuple[str, ...], end: str = "\n") -> str:
        return end.join(items) + end

    (OUT / "speech-gbk.txt").write_bytes(lines(GBK_LINES, "\r\n").encode("gbk"))
    (OUT / "speech-gb18030.txt").write_bytes(lines(GB18030_LINES).encode("gb18030"))
    (OUT / "speech-big5.txt").write_bytes(lines(TRAD_LINES, "\r\n").encode("big5"))
    (OUT / "interview-utf16le-bom.txt").write_bytes(lines(UTF16_LINES, "\r\n").encode("utf-16"))
    (OUT / "interview-utf16be-nobom.txt").write_bytes(lines(UTF16_LINES).encode("utf-16-be"))
    md = "# " + TRAD_TITLE + "\n\n## 林志遠（臺灣文創發展協會理事長）\n\n" + "\n\n".join(TRAD_LINES[2:]) + "\n"
    (OUT / "speech-utf8-bom.md").write_bytes(md.encode("utf-8-sig"))
    # A UTF-8 file with a paragraph pasted in from a GBK file: both halves are real text, in two encodings.
    mixed = lines(GBK_LINES[:4]).encode() + lines(GBK_LINES[4:7]).encode("gbk") + lines(GBK_LINES[7:]).encode()
    (OUT / "mixed-utf8-gbk.txt").write_bytes(mixed)
    # Binary data named .txt (NUL bytes that are not UTF-16 text).
    (OUT / "binary.txt").write_bytes(bytes((i * 37 + 11) % 256 for i in range(2048)))
    # Text in an encoding this program does not read (Latin-1 French).
    (OUT / "latin1.txt").write_bytes("Le festival de la création a réuni des artistes à Orléans.\n".encode("latin-1"))
    (OUT / "empty.txt").write_bytes(b"  \r\n\r\n")


def make_html_files() -> None:
    (OUT / "article-utf8.html").write_text(article_utf8(), encoding="utf-8")
    (OUT / "article-gbk.html").write_bytes(article_gbk().encode("gbk"))
    (OUT / "frameset.html").write_text(FRAMESET, encoding="utf-8")
    (OUT / "login.html").write_text(LOGIN, encoding="utf-8")
    (OUT / "no-article.html").write_text(APP_SHELL, encoding="utf-8")
    (OUT / "html-named.txt").write_text(article_utf8(), encoding="utf-8")


PAGE_TOP = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="{charset}">
<title>{title}_{site}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{site}">
<meta property="og:type" content="article">
<meta property="article:published_time" content="{date}T09:30:00+08:00">
<meta name="description" content="{title}">
<link rel="stylesheet" href="https://static.example.com/css/main.css">
<script src="https://static.example.com/js/jquery.min.js"></script>
<script>var _hmt = _hmt || []; (function() {{ var hm = document.createElement("script");
hm.src = "https://stats.example.com/hm.js?1234"; document.head.appendChild(hm); }})();</script>
</head>
<body>
<div class="top-bar">
 <a href="/">首页</a> | <a href="/login">登录</a> | <a href="/register">注册</a> | <a href="/app">下载客户端</a>
</div>
<nav class="main-nav"><ul>
 <li><a href="/news">要闻</a></li><li><a href="/politics">时政</a></li><li><a href="/culture">文化</a></li>
 <li><a href="/economy">经济</a></li><li><a href="/society">社会</a></li><li><a href="/video">视频</a></li>
 <li><a href="/photo">图片</a></li><li><a href="/special">专题</a></li>
</ul></nav>
<div class="ad-banner"><a href="https://ads.example.com/click?id=88"><img src="https://ads.example.com/banner.jpg" alt="广告"></a>
<span>广告</span> 春季车展火热进行中，购车享最高万元补贴！</div>
<div class="breadcrumb"><a href="/">首页</a> &gt; <a href="/culture">文化</a> &gt; 正文</div>
<div class="container">
<div class="article-main">
"""

PAGE_BOTTOM = """
<div class="share">分享到：<a href="#">微信</a> <a href="#">微博</a> <a href="#">QQ空间</a></div>
<div class="editor">【责任编辑：赵小兰】</div>
</div>
<aside class="sidebar">
 <div class="hot"><h3>热点排行</h3><ol>
  <li><a href="/a/1">我市出台支持夜间经济发展十条措施</a></li>
  <li><a href="/a/2">地铁6号线东延段预计年底通车</a></li>
  <li><a href="/a/3">星沙图书馆新馆本周六开放</a></li>
  <li><a href="/a/4">春季招聘会提供岗位两万余个</a></li>
 </ol></div>
 <div class="ad-side"><img src="https://ads.example.com/side.jpg" alt="广告">名校名师在线辅导，首课免费</div>
</aside>
</div>
<div class="related"><h3>相关阅读</h3><ul>
 <li><a href="/a/11">湘绣走进国际时装周</a></li>
 <li><a href="/a/12">非遗工坊带动千余人就业</a></li>
 <li><a href="/a/13">文创市集周末开市</a></li>
</ul></div>
<div class="comments" id="comments"><h3>网友评论（3）</h3>
 <div class="comment"><span class="user">星沙市民</span>：支持！希望多办这样的活动。<span class="time">2024-03-05 10:12</span></div>
 <div class="comment"><span class="user">游客8848</span>：我家孩子特别喜欢那个书签。<span class="time">2024-03-05 11:40</span></div>
 <div class="comment"><span class="user">老张</span>：手艺人不容易，点赞。<span class="time">2024-03-05 12:03</span></div>
 <form class="comment-form"><textarea placeholder="说两句吧"></textarea><button>发表评论</button></form>
</div>
<footer class="site-footer">
 <p><a href="/about">关于我们</a> | <a href="/contact">联系我们</a> | <a href="/ads">广告服务</a> | <a href="/jobs">招聘信息</a></p>
 <p>版权所有 &copy; 2024 {site} 未经授权禁止转载 备案号：星ICP备00000000号</p>
</footer>
<script src="https://static.example.com/js/share.js"></script>
<script>document.write('<img src="https://stats.example.com/pixel.gif">');</script>
</body>
</html>
"""


def article_utf8() -> str:
    body = [
        f"<h1>{INTERVIEW_TITLE}</h1>",
        f'<h2 class="subtitle">{INTERVIEW_SUBTITLE}</h2>',
        '<div class="info"><span>2024-03-05 09:30</span> <span>来源：星沙日报</span> <span>作者：陈明</span></div>',
        '<div class="article-content">',
        f"<p>{INTERVIEW_LEAD}</p>",
        *[f"<p>{who}：{what}</p>" for who, what in INTERVIEW_QA[:2]],
        "<h3>“小而精”更受欢迎</h3>",
        *[f"<p>{who}：{what}</p>" for who, what in INTERVIEW_QA[2:]],
        f"<p>{INTERVIEW_CLOSING}</p>",
        "</div>",
    ]
    top = PAGE_TOP.format(charset="utf-8", title=INTERVIEW_TITLE, site=NEWS_SITE, date="2024-03-05")
    return top + "\n".join(body) + PAGE_BOTTOM.format(site=NEWS_SITE)


def article_gbk() -> str:
    body = [
        f"<h1>{NEWS_TITLE}</h1>",
        '<div class="info">2024年03月05日 08:15　来源：星沙日报</div>',
        '<div class="article-content">',
        *[f"<p>{t}</p>" for t in NEWS_PARAGRAPHS],
        "</div>",
    ]
    top = PAGE_TOP.format(charset="gbk", title=NEWS_TITLE, site=NEWS_SITE, date="2024-03-05")
    return top + "\n".join(body) + PAGE_BOTTOM.format(site=NEWS_SITE)


FRAMESET = """<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Frameset//EN">
<html><head><meta charset="utf-8"><title>星沙日报数字报</title></head>
<frameset cols="220,*">
 <frame src="nav.html" name="nav">
 <frame src="content_3.html" name="content">
 <noframes><body>您的浏览器不支持框架。</body></noframes>
</frameset>
</html>
"""

LOGIN = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>用户登录 - 星沙新闻网</title>
<script src="https://static.example.com/js/login.js"></script></head>
<body>
<nav><a href="/">首页</a> <a href="/news">要闻</a> <a href="/culture">文化</a></nav>
<div class="login-box">
 <h2>用户登录</h2>
 <p>登录后即可阅读全文、发表评论。</p>
 <form action="/login" method="post">
  <label>用户名 <input type="text" name="username"></label>
  <label>密码 <input type="password" name="password"></label>
  <label><input type="checkbox" name="remember"> 记住我</label>
  <button type="submit">登录</button>
 </form>
 <p><a href="/register">注册新用户</a> | <a href="/forgot">忘记密码？</a></p>
</div>
<footer>版权所有 © 2024 星沙新闻网</footer>
</body></html>
"""

APP_SHELL = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>星沙新闻网</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body>
<noscript>请启用JavaScript后浏览本站。</noscript>
<div id="app"></div>
<script src="/static/js/chunk-vendors.js"></script>
<script src="/static/js/app.js"></script>
</body></html>
"""


def copy(source: Path, name: str) -> None:
    shutil.copyfile(source, OUT / name)


def main() -> int:
    if shutil.which("soffice") is None:
        print(
            "LibreOffice (soffice) is needed: apt-get install libreoffice-writer-nogui fonts-noto-cjk", file=sys.stderr
        )
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        make_office_files(Path(tmp))
    make_zip_files()
    make_text_files()
    make_html_files()
    total = 0
    for path in sorted(OUT.iterdir()):
        total += path.stat().st_size
        print(f"{path.stat().st_size:>9}  {path.relative_to(ROOT)}")
    print(f"{total:>9}  total")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
