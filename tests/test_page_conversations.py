"""The chat page as staff use it all day, in a real browser against a real uvicorn: conversations kept in the
browser, shared links, citations in three formats, export and print, the page without JavaScript, the speech
page, accessibility (axe-core) and dark mode. Reuses test_page's browser, server and page helpers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import test_page
from test_page import QUESTION, Opener, ask, expect, shot

from app.main import create_app
from app.serving import serving_in_thread
from rag import Settings, build_index

pytestmark = pytest.mark.browser

# test_page's fixtures: the real index's server, and the page opener that checks what a page did (the one
# browser is conftest's).
open_page = test_page.open_page
server = test_page.server

# Two tiny documents: one with every citation field (year, 版次, url, English source), one with none.
WITH_FIELDS = """---
title: 测试日报报道
date: 9月30日
source: 测试日报
year: 2024
page: 04
url: https://example.org/news/1
---
# 测试日报报道

## 林一（总工程师，甲公司）

甲公司的海水淡化装置每天可以生产两万吨淡水，供应沿海三个城市。
"""
WITH_FIELDS_META = {"source_en": "Test Daily"}
WITHOUT_FIELDS = """---
title: 乙公司座谈会发言
source: 乙日报
---
# 乙公司座谈会发言

## 周二（董事长，乙公司）

乙公司今年在山区修建了一百二十座小型水电站，解决了偏远村庄的用电问题。
"""
WITH_Q = "甲公司的海水淡化装置每天生产多少淡水？"
WITHOUT_Q = "乙公司在山区修建了多少座水电站？"


@pytest.fixture(scope="module")
def cite_server(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[str]:
    root = tmp_path_factory.mktemp("cite")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "with-fields.md").write_text(WITH_FIELDS, encoding="utf-8")
    (corpus / "with-fields.meta.json").write_text(json.dumps(WITH_FIELDS_META), encoding="utf-8")
    (corpus / "without-fields.md").write_text(WITHOUT_FIELDS, encoding="utf-8")
    private = settings.model_copy(
        update={"corpus_dir": corpus, "index_dir": root / "index", "feedback_db": root / "fb.sqlite3"}
    )
    build_index(private)
    app = create_app(private)
    with serving_in_thread(app) as url:
        assert app.state.service.wait_ready(120)
        yield url


def clipboard(page: Any) -> str:
    return str(page.evaluate("navigator.clipboard.readText()"))


# ---------------------------------------------------------------- conversations in the browser


def test_reload_keeps_the_conversation_and_past_ones_can_be_reopened_or_deleted(server: str, open_page: Opener) -> None:
    page, _ = open_page(server)
    first = ask(page, QUESTION)
    first.locator('[data-action="paragraph"]').first.click()  # an expanded paragraph stays expanded
    first.locator('.thumb[data-rating="up"]').click()
    expect(first.locator(".fb-status")).to_have_text("谢谢反馈！")
    expect(first.locator(".context").first).to_be_visible()
    page.locator("#lang-switch").click()
    expect(first.locator(".context").first).to_be_visible()
    page.locator("#lang-switch").click()
    ask(page, "他还说了什么？")
    page.reload()
    expect(page.locator(".turn")).to_have_count(2)
    expect(page.locator(".turn h2.q-text").first).to_have_text(QUESTION)
    expect(page.locator(".turn").first.locator(".context").first).to_be_visible()
    expect(page.locator("#welcome")).to_be_hidden()

    page.locator("#new-chat").click()
    expect(page.locator(".turn")).to_have_count(0)
    ask(page, "谁谈到了人才？")
    page.locator("#history-toggle").click()
    items = page.locator("#history-list li")
    expect(items).to_have_count(2)
    shot(page, "history")
    items.filter(has_text=QUESTION).locator(".history-open").click()  # reopen the first conversation
    expect(page.locator(".turn")).to_have_count(2)
    expect(page.locator(".turn h2.q-text").first).to_have_text(QUESTION)

    page.goto(server + "/docs")  # Back returns to the conversation
    page.go_back()
    expect(page.locator(".turn")).to_have_count(2)

    page.locator("#history-toggle").click()
    page.locator("#history-list li", has_text="谁谈到了人才").get_by_role("button", name="删除").click()
    expect(page.locator("#history-list li")).to_have_count(1)
    page.locator("#history-clear").click()
    expect(page.locator(".turn")).to_have_count(0)
    page.reload()
    expect(page.locator(".turn")).to_have_count(0)
    expect(page.locator("#history-toggle")).to_have_text("历史对话（0）")
    expect(page.locator('a[href="/docs"]')).to_have_attribute("target", "_blank")


def test_a_shared_link_opens_the_page_and_asks(server: str, open_page: Opener) -> None:
    page, watch = open_page(server, "/?q=" + quote(QUESTION))
    turn = page.locator(".turn").first
    expect(turn.locator(".a.found")).to_be_visible()
    expect(turn.locator("h2.q-text")).to_have_text(QUESTION)
    assert watch.asks[0]["question"] == QUESTION
    assert page.url == server + "/"  # a reload does not ask again


def test_who_is_a_speaker_shows_the_page_s_speaker_line(server: str, open_page: Opener) -> None:
    page, _watch = open_page(server, "/?q=" + quote("王杰是谁？"))
    turn = page.locator(".turn").first
    expect(turn.locator(".a.found.profile .profile-line")).to_contain_text("王杰(比亚迪股份有限公司副总裁)")
    expect(turn.locator(".a.found.profile .lead")).to_have_text("王杰，比亚迪股份有限公司副总裁")


def test_a_server_rendered_answer_becomes_the_first_turn_of_a_conversation(server: str, open_page: Opener) -> None:
    page, watch = open_page(server, "/?question=" + quote(QUESTION))
    expect(page.locator(".turn")).to_have_count(1)  # the script's turn replaces the server's, not beside it
    expect(page.locator(".turn .card.best .copy")).to_be_visible()
    assert watch.asks == [] and page.url == server + "/"
    page.reload()
    expect(page.locator(".turn h2.q-text")).to_have_text(QUESTION)


# ---------------------------------------------------------------- citations


GBT_WITH = (
    "“甲公司的海水淡化装置每天可以生产两万吨淡水，供应沿海三个城市。”——林一，总工程师，甲公司[1]\n"
    "[1] 测试日报报道[N]. 测试日报, 2024-09-30(04). https://example.org/news/1."
)
APA_WITH = (
    "“甲公司的海水淡化装置每天可以生产两万吨淡水，供应沿海三个城市。” — 林一，总工程师，甲公司\n"
    "测试日报报道. (2024, September 30). 测试日报, p. 04. https://example.org/news/1"
)
PLAIN_WITH = (
    "“甲公司的海水淡化装置每天可以生产两万吨淡水，供应沿海三个城市。” —— 林一，总工程师，甲公司"
    "（测试日报，《测试日报报道》，2024年9月30日，第04版）"
)
GBT_WITHOUT = (
    "“乙公司今年在山区修建了一百二十座小型水电站，解决了偏远村庄的用电问题。”——周二，董事长，乙公司[1]\n"
    "[1] 乙公司座谈会发言[N]. 乙日报."
)
APA_WITHOUT = (
    "“乙公司今年在山区修建了一百二十座小型水电站，解决了偏远村庄的用电问题。” — 周二，董事长，乙公司\n"
    "乙公司座谈会发言. (n.d.). 乙日报."
)
PLAIN_WITHOUT = "“乙公司今年在山区修建了一百二十座小型水电站，解决了偏远村庄的用电问题。” —— 周二，董事长，乙公司（乙日报，《乙公司座谈会发言》）"


def copied_as(page: Any, turn: Any, fmt: str) -> str:
    turn.locator(".cite-format").select_option(fmt)
    turn.locator(".card.best .copy").click()
    return clipboard(page)


def test_each_citation_format_for_documents_with_and_without_year_and_page(cite_server: str, open_page: Opener) -> None:
    page, _ = open_page(cite_server, permissions=["clipboard-read", "clipboard-write"])
    with_fields = ask(page, WITH_Q)
    expect(with_fields.locator(".card.best .ref-n")).to_have_text("[1]")
    expect(with_fields.locator(".card.best .source")).to_contain_text("第04版")
    assert copied_as(page, with_fields, "plain") == PLAIN_WITH
    assert copied_as(page, with_fields, "gbt") == GBT_WITH
    assert copied_as(page, with_fields, "apa") == APA_WITH
    without = ask(page, WITHOUT_Q)
    assert copied_as(page, without, "plain") == PLAIN_WITHOUT
    assert copied_as(page, without, "gbt") == GBT_WITHOUT
    assert copied_as(page, without, "apa") == APA_WITHOUT
    without.locator(".copy-all").click()  # every quote of the answer, then its references (APA: unnumbered)
    assert clipboard(page) == APA_WITHOUT.replace("\n", "\n\n")


def test_english_citation_uses_the_english_source_and_date(cite_server: str, open_page: Opener) -> None:
    page, _ = open_page(cite_server, locale="en-US", permissions=["clipboard-read", "clipboard-write"])
    turn = ask(page, WITH_Q)
    expect(turn.locator(".card.best .source")).to_contain_text("Test Daily")
    expect(turn.locator(".card.best .source")).to_contain_text("30 September")
    assert copied_as(page, turn, "apa").endswith(
        "测试日报报道. (2024, September 30). Test Daily, p. 04. https://example.org/news/1"
    )


# ---------------------------------------------------------------- export and print


def test_export_markdown_and_print_every_turn_without_controls(server: str, open_page: Opener, tmp_path: Path) -> None:
    page, _ = open_page(server)
    ask(page, QUESTION)
    ask(page, "谁谈到了人才？")
    with page.expect_download() as download:
        page.locator("#export-md").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("# 讲话原话问答 — 对话")
    assert "导出日期：" in text and "## 1. " + QUESTION in text and "## 2. 谁谈到了人才？" in text
    assert "> [1] “中国移动客户规模较大" in text and "—— 张冬，副总经理" in text
    assert "[N]. 湖南日报" in text  # the GB/T reference list

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed (apt-get install poppler-utils)")
    pdf = tmp_path / "conversation.pdf"
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")  # what window.print() does first
    page.pdf(path=str(pdf))
    printed = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    squashed = "".join(printed.split())
    assert "中国移动目前全国客户规模有多少" in squashed and "谁谈到了人才" in squashed
    quotes = page.locator(".turn .card").count()
    assert quotes > 2 and squashed.count("来源：") == quotes  # every quote, folded ones too
    for control in ("发送", "复制", "这个回答有帮助吗", "导出"):
        assert control not in squashed, f"{control} printed"


# ---------------------------------------------------------------- without JavaScript


def test_without_javascript_the_form_answers_on_the_server(browser: Any, server: str) -> None:
    context = browser.new_context(java_script_enabled=False, locale="zh-CN", viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        page.goto(server + "/")
        expect(page.locator("noscript, .noscript").first).to_be_attached()
        page.locator("#question").fill(QUESTION)
        page.locator("#send").click()
        page.wait_for_url("**/?question=*")
        best = page.locator(".card.best")
        expect(best.locator("blockquote")).to_contain_text("10亿")
        expect(best.locator(".who")).to_have_text("张冬")
        expect(best.locator(".source")).to_contain_text("湖南日报")
        shot(page, "no-javascript")

        page.goto(server + "/?question=" + quote("明天的天气怎么样？"))
        expect(page.locator(".a.notfound .a-title")).to_have_text("没有找到答案")

        page.goto(server + "/?question=" + quote(QUESTION))
        link = page.locator(".card.best .source a")
        target = page.locator(".card.best").get_attribute("data-paragraph-id")
        link.click()
        page.wait_for_url(f"**/speeches/*#{target}")
        para = page.locator(f'[id="{target}"]')
        expect(para).to_contain_text("10亿")
        assert para.evaluate("p => getComputedStyle(p).boxShadow") != "none"  # :target highlight
        shot(page, "speech-page")
    finally:
        context.close()


def test_speeches_json_stays_for_api_clients(server: str) -> None:
    import httpx

    slug = httpx.get(server + "/speakers").json()[0]["documents"][0]
    api = httpx.get(server + "/speeches/" + slug)
    assert api.headers["content-type"].startswith("application/json") and api.json()["paragraphs"]
    page = httpx.get(server + "/speeches/" + slug, headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.headers["content-type"].startswith("text/html") and 'class="para"' in page.text


# ---------------------------------------------------------------- accessibility and dark mode


def test_axe_finds_no_serious_violations_and_dark_mode(server: str, open_page: Opener) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page, _ = open_page(server)
    turn = ask(page, QUESTION)
    # Only the new answer is announced: the conversation is not a live region, the announcer holds one answer.
    assert page.locator("#conversation").get_attribute("aria-live") is None
    expect(page.locator("#announcer")).to_contain_text("中国移动客户规模较大")
    expect(page.locator("#announcer")).not_to_contain_text(QUESTION)
    turn.locator("details.more > summary").click()
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], json.dumps([(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in bad], ensure_ascii=False)

    page.locator("#lang-switch").click()  # the English UI too
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], json.dumps([(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in bad], ensure_ascii=False)
    page.locator("#lang-switch").click()

    page.emulate_media(color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(246, 244, 239)"
    shot(page, "dark-mode")
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], json.dumps([(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in bad], ensure_ascii=False)


# ---------------------------------------------------------------- the reading aid


def test_hovering_a_word_of_a_quote_shows_pinyin_and_dictionary_glosses(server: str, open_page: Opener) -> None:
    page, _ = open_page(server, locale="en-US")
    turn = ask(page, QUESTION)
    excerpt = turn.locator(".card.best .excerpt p")
    text = excerpt.inner_text()
    excerpt.hover()
    word = excerpt.locator('.w[data-word="客户"]').first
    expect(word).to_be_visible()
    assert excerpt.inner_text() == text  # the quote reads exactly as before
    word.hover()
    gloss = page.locator("#gloss")
    expect(gloss).to_be_visible()
    expect(gloss.locator(".g-pinyin").first).to_have_text("kè hù")
    expect(gloss).to_contain_text("customer")
    expect(gloss.locator(".g-note")).to_have_text(
        "Dictionary gloss (CC-CEDICT), not a translation: the quote itself is the authority."
    )
    shot(page, "reading-aid-en")
    page.keyboard.press("Escape")
    expect(gloss).to_be_hidden()


def test_glosses_name_a_speaker_by_the_forms_in_the_metadata(server: str) -> None:
    import httpx

    speaker = next(s for s in httpx.get(server + "/speakers").json() if s["name_en"])
    words = httpx.get(server + "/glosses", params={"text": speaker["name"] + "说"}).json()["words"]
    assert words[0]["word"] == speaker["name"] and speaker["name_en"] in words[0]["name_forms"]
    assert httpx.get(server + "/glosses", params={"text": ""}).status_code == 422


# ---------------------------------------------------------------- details a demanding user notices


def test_conflicting_chip_long_questions_timings_and_focus(server: str, open_page: Opener) -> None:
    page, _ = open_page(server)
    page.locator("#examples .example").first.click()
    expect(page.locator("#question")).to_be_focused()  # not lost with the example list
    page.locator('.chip[data-speaker="张冬"]').click()
    turn = ask(page, "张平安如何看待马栏山？")
    expect(turn.locator(".q-conflict")).to_have_text("问题提到张平安，但只在张冬的发言中查找")
    expect(turn.locator("details.dev")).not_to_have_attribute("open", "")
    expect(turn.locator("details.dev p")).to_be_hidden()  # timings only behind the developer toggle
    turn.locator("details.dev > summary").click()
    expect(turn.locator("details.dev p")).to_be_visible()
    expect(turn.locator("details.dev p")).to_contain_text("毫秒")

    page.locator('.chip[aria-pressed="true"]').first.click()  # 张冬 off again: all speakers
    page.locator(".chip").first.click()
    long_question = "请问" + "中国移动目前全国客户规模有多少，" * 12 + "？"
    turn = ask(page, long_question)
    title = turn.locator("h2.q-text")
    assert title.evaluate("h => h.scrollHeight > h.clientHeight + 4")  # collapsed to three lines
    turn.locator(".q-more").click()
    assert title.evaluate("h => h.scrollHeight <= h.clientHeight + 4")


def test_phone_tap_targets_are_at_least_44_px(server: str, open_page: Opener) -> None:
    page, _ = open_page(server, viewport=(390, 844), mobile=True)
    turn = ask(page, QUESTION)
    targets = page.locator(".top-actions > *, .chip, .card-actions button, .thumb, .cite-format, #send")
    small = [
        (t["text"], t["height"])
        for t in targets.evaluate_all(
            "els => els.map(e => ({text: e.textContent, height: e.getBoundingClientRect().height}))"
        )
        if t["height"] < 44
    ]
    assert small == []
    turn.locator(".card.best").get_by_role("button", name="查看全文").click()
    close = page.locator("#panel-close")
    expect(close).to_be_visible()
    box = close.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390 and box["height"] >= 44
    shot(page, "phone-panel")
