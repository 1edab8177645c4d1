"""The pages rendered on the server (no JavaScript): an answer for `GET /?question=`, the speech page, /docs."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from rag import Index, Settings
from rag.service import Service

QUESTION = "中国移动目前全国客户规模有多少？"
HTML = {"Accept": "text/html,application/xhtml+xml", "Accept-Language": "zh-CN"}


@pytest.fixture(scope="module")
def client(settings: Settings, index: Index) -> Iterator[TestClient]:
    with TestClient(create_app(settings, service=Service(settings, index=index))) as c:
        yield c


def test_a_question_in_the_url_is_answered_on_the_server(client: TestClient) -> None:
    page = client.get("/?question=" + quote(QUESTION), headers=HTML)
    assert page.status_code == 200
    assert '<article class="turn server-turn">' in page.text and "10亿" in page.text
    assert '<span class="who">张冬</span>' in page.text and 'id="server-answer"' in page.text
    assert 'href="/speeches/wenhua-keji-zuotanhui#wenhua-keji-zuotanhui-p' in page.text


def test_not_found_and_invalid_questions_render_their_state(client: TestClient) -> None:
    assert "没有找到答案" in client.get("/?question=" + quote("明天的天气怎么样？"), headers=HTML).text
    blank = client.get("/?question=%20", headers=HTML)
    assert blank.status_code == 200 and "问题无效" in blank.text
    unknown = client.get("/?question=" + quote(QUESTION) + "&speaker=" + quote("马云"), headers=HTML)
    assert "马云" in unknown.text and 'class="a error"' in unknown.text


def test_markup_in_a_question_in_the_url_is_escaped(client: TestClient) -> None:
    page = client.get("/?question=" + quote("<script>alert(1)</script>"), headers=HTML)
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text


def test_the_speech_page_and_its_json(client: TestClient) -> None:
    page = client.get("/speeches/wenhua-keji-zuotanhui", headers=HTML)
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="wenhua-keji-zuotanhui-p6"' in page.text and "张冬，副总经理" in page.text
    assert client.get("/speeches/wenhua-keji-zuotanhui").json()["paragraphs"][5]["id"] == "wenhua-keji-zuotanhui-p6"
    assert client.get("/speeches/no-such-document", headers=HTML).status_code == 404


def test_docs_lists_every_operation_without_javascript(client: TestClient) -> None:
    page = client.get("/docs", headers=HTML).text
    for path in ("/ask", "/speakers", "/speeches/{key}", "/glosses", "/feedback"):
        assert f'<span class="path">{path}</span>' in page


def test_the_rate_limit_covers_questions_asked_through_the_page(settings: Settings, index: Index) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 2})
    with TestClient(create_app(limited, service=Service(limited, index=index))) as c:
        codes = [c.get("/?question=" + quote(QUESTION), headers=HTML).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert c.get("/", headers=HTML).status_code == 200  # the page itself is not limited


def test_dates_on_the_server_match_the_script() -> None:
    from app.pages import chinese_date, english_date

    assert chinese_date({"date": "9月30日", "year": "2024"}) == "2024年9月30日"
    assert chinese_date({"date": "2024年9月30日", "year": "2024"}) == "2024年9月30日"
    assert chinese_date({"date": "9月30日", "year": ""}) == "9月30日"  # never guessed
    assert english_date("9月30日") == "30 September" and english_date("2024-09-30") == "30 September 2024"


def test_a_profile_and_a_filter_note_render_on_the_server(client: TestClient) -> None:
    page = client.get("/?question=" + quote("王杰是谁？"), headers=HTML).text
    assert 'class="profile-line"' in page and "王杰(比亚迪股份有限公司副总裁)" in page
    noted = client.get("/?question=" + quote("China Mobile有多少客户？") + "&speaker=" + quote("吴太兵"), headers=HTML).text
    assert "已按发言人筛选" in noted
