"""The HTTP API through TestClient on the real index: contract, limits, errors, security headers, CORS."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.html import parse_html

from app.main import create_app
from app.middleware import BodyLimit, LoadShedding
from rag import Index, Settings
from rag.feedback import FeedbackStore
from rag.records import MAX_QUESTION_CHARS
from rag.service import Service

QUESTION = "中国移动目前全国客户规模有多少？"


@pytest.fixture(scope="module")
def service(settings: Settings, index: Index) -> Service:
    """One service over the session's real index (create_app's own loading is tested separately)."""
    return Service(settings, index=index)


@pytest.fixture(scope="module")
def client(settings: Settings, service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(settings, service=service)) as client:
        yield client


def with_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


# ---------------------------------------------------------------- POST /ask: the contract


def test_ask_returns_the_answer_object_with_timings(client: TestClient) -> None:
    r = client.post("/ask", json={"question": QUESTION})
    assert r.status_code == 200
    body = r.json()
    assert body["found"] is True
    assert body["question"] == QUESTION
    assert body["language"] == "zh"
    assert set(body["timings_ms"]) == {"embed", "search", "answer", "total"}
    assert all(v >= 0 for v in body["timings_ms"].values())
    assert re.fullmatch(r"[0-9a-f]{48}", body["ask_id"])
    assert body["generation"].startswith("gen-")
    first = body["quotes"][0]
    assert first["speaker"] == "张冬"
    assert "10亿" in first["text"]
    for q in body["quotes"]:
        assert q["paragraph"][q["start"] : q["end"]] == q["text"]
        assert {
            "title",
            "organization",
            "speaker_en",
            "organization_en",
            "title_en",
            "headline",
            "paragraph_id",
        } <= set(q)
        assert q["document"] in body["documents"]
    doc = body["documents"][first["document"]]
    assert doc["source"] == "湖南日报" and doc["source_en"] == "Hunan Daily" and doc["title"]
    assert body["speakers"][0] == "张冬"
    assert "张冬" in body["answer"]


def test_repeated_question_is_served_from_the_cache(client: TestClient) -> None:
    question = "张平安如何看待马栏山？"
    first = client.post("/ask", json={"question": question, "top_k": 3}).json()
    second = client.post("/ask", json={"question": question, "top_k": 3}).json()
    assert second["cached"] is True
    assert second["quotes"] == first["quotes"]
    assert second["ask_id"] != first["ask_id"]
    assert second["timings_ms"]["embed"] == 0
    other_k = client.post("/ask", json={"question": question, "top_k": 2}).json()
    assert other_k["cached"] is False and len(other_k["quotes"]) <= 2


def test_english_question_over_the_chinese_corpus(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "How many customers does China Mobile have?"}).json()
    assert body["found"] and body["language"] == "en"
    assert body["quotes"][0]["speaker_en"] == "Zhang Dong"
    assert "10亿" in body["quotes"][0]["text"]


def test_multi_speaker_question_quotes_several_speakers(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "哪些企业家提到了马栏山？"}).json()
    assert body["intent"] == "multi"
    speakers = [q["speaker"] for q in body["quotes"]]
    assert len(set(speakers)) >= 2 and "张平安" in speakers


def test_follow_up_uses_the_history(client: TestClient) -> None:
    first = client.post("/ask", json={"question": "张平安如何看待马栏山？"}).json()
    turn = {"question": first["question"], "answer": first["answer"], "speakers": first["speakers"]}
    body = client.post("/ask", json={"question": "他还说了什么？", "history": [turn]}).json()
    assert body["found"]
    assert {q["speaker"] for q in body["quotes"]} == {"张平安"}
    assert body["resolved_question"] != body["question"]


def test_not_found_lists_closest_passages_separately(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "今天长沙的天气怎么样？"}).json()
    assert body["found"] is False
    assert body["quotes"] == []
    assert body["answer"] == "收录的讲话和报道中没有找到相关内容。"
    assert isinstance(body["closest"], list)


def test_speaker_filter_by_any_alias(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "人才", "speaker": "Huawei Cloud"}).json()
    assert body["quotes"] and {q["speaker"] for q in body["quotes"]} == {"张平安"}
    blank = client.post("/ask", json={"question": "人才", "speaker": "  "})
    assert blank.status_code == 200  # an empty filter means no filter


def test_unknown_speaker_is_422_with_the_known_speakers(client: TestClient) -> None:
    r = client.post("/ask", json={"question": "他说了什么？", "speaker": "马云"})
    assert r.status_code == 422
    body = r.json()
    assert "马云" in body["detail"]
    assert "张平安" in body["known_speakers"] and len(body["known_speakers"]) == 9
    assert "张平安" in body["detail"]


def test_unknown_document_is_422_with_the_known_documents(client: TestClient) -> None:
    r = client.post("/ask", json={"question": "人才", "document": "no-such-doc"})
    assert r.status_code == 422
    assert r.json()["known_documents"] == ["wenhua-keji-zuotanhui"]
    ok = client.post("/ask", json={"question": "人才", "document": "wenhua-keji-zuotanhui"})
    assert ok.status_code == 200


# ---------------------------------------------------------------- validation, limits, errors


def _turn(i: int) -> dict[str, Any]:
    return {"question": f"问题{i}", "answer": None, "speakers": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   \n\t "}, "question"),
        ({"question": "字" * (MAX_QUESTION_CHARS + 1)}, "question"),
        ({}, "question"),
        ({"question": 42}, "question"),
        ({"question": "人才", "top_k": 0}, "top_k"),
        ({"question": "人才", "top_k": 21}, "top_k"),
        ({"question": "人才", "top_k": "five"}, "top_k"),
        ({"question": "人才", "mode": "fuzzy"}, "mode"),
        ({"question": "人才", "history": [_turn(i) for i in range(21)]}, "history"),
        ({"question": "人才", "history": [{"answer": "x"}]}, "history.0.question"),
        ({"question": "人才", "topk": 3}, "topk"),
        ([QUESTION], "body"),
        ("just a string", "body"),
    ],
)
def test_invalid_requests_get_a_readable_422(client: TestClient, body: Any, field: str) -> None:
    r = client.post("/ask", json=body)
    assert r.status_code == 422
    data = r.json()
    assert isinstance(data["detail"], str) and data["detail"].startswith("Invalid request:")
    assert field in [e["field"] for e in data["errors"]]
    assert "Traceback" not in r.text and "input" not in data


def test_question_limits_count_characters_after_trimming(client: TestClient) -> None:
    padded = "  " + "人才" * (MAX_QUESTION_CHARS // 2) + "\n "
    assert client.post("/ask", json={"question": padded, "top_k": 1}).status_code == 200
    assert client.post("/ask", json={"question": "才" * (MAX_QUESTION_CHARS + 1)}).status_code == 422
    history = [_turn(i) for i in range(20)]
    assert client.post("/ask", json={"question": "人才", "history": history}).status_code == 200


@pytest.mark.parametrize("raw", [b'{"question": ', b"{question: 1}", b'{"question": "a"', b"\xff\xfe"])
def test_malformed_json_is_400(client: TestClient, raw: bytes) -> None:
    r = client.post("/ask", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    assert isinstance(r.json()["detail"], str)
    if raw.startswith(b"{"):
        assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]


def _padded_body(size: int) -> bytes:
    """A JSON body of exactly `size` bytes (its unknown field makes it a 422 if it gets past the limit)."""
    head = b'{"question": "x", "pad": "'
    tail = b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


def test_body_over_64kb_is_413(client: TestClient, settings: Settings) -> None:
    limit = settings.max_body_bytes
    assert limit == 65_536
    at_limit = client.post("/ask", content=_padded_body(limit), headers={"Content-Type": "application/json"})
    assert at_limit.status_code == 422  # read and validated: exactly the limit is allowed
    over = client.post("/ask", content=_padded_body(limit + 1), headers={"Content-Type": "application/json"})
    assert over.status_code == 413
    assert "65536" in over.json()["detail"]
    assert over.headers["x-content-type-options"] == "nosniff"


def test_chunked_body_without_content_length_is_counted(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(40):
            yield "字".encode() * 1000  # 3 KB each: 120 KB in all
        yield b'"}'

    r = client.post("/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.request.headers.get("content-length") is None
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 413

    def small() -> Iterator[bytes]:
        yield b'{"question": '
        yield json.dumps(QUESTION).encode()
        yield b"}"

    ok = client.post("/ask", content=small(), headers={"Content-Type": "application/json"})
    assert ok.status_code == 200 and ok.json()["found"]


def test_body_limit_counts_bytes_even_when_content_length_lies() -> None:
    """At the ASGI level: a small Content-Length followed by a large stream is still refused."""
    reached: list[bytes] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        reached.append((await receive())["body"])

    messages = [{"type": "http.request", "body": b"x" * 40_000, "more_body": True}] * 3
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/ask", "method": "POST", "headers": [(b"content-length", b"10")]}
    asyncio.run(BodyLimit(app, limit=65_536)(scope, receive, send))
    assert sent[0]["status"] == 413
    assert reached == []


def test_no_stack_trace_or_path_reaches_the_client(settings: Settings, service: Service) -> None:
    app = create_app(settings, service=service)

    def boom() -> None:
        raise RuntimeError(f"secret failure in {Path(__file__).resolve()}")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-content-type-options"] == "nosniff"
    text = r.text
    assert "Traceback" not in text and "secret" not in text and ".py" not in text and "/tests" not in text
    assert "Internal server error" in r.json()["detail"]


def test_readyz_is_503_until_an_index_is_loaded(fresh_settings: Settings) -> None:
    with TestClient(create_app(fresh_settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] in ("missing", "loading")
        assert "Retry-After" in r.headers
        ask = client.post("/ask", json={"question": QUESTION})
        assert ask.status_code == 503 and "Retry-After" in ask.headers
        assert str(fresh_settings.index_dir) not in ask.text + r.text
        assert client.get("/").status_code == 200  # the page still loads (and fetches speakers later)


def test_create_app_loads_the_index_in_the_background(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert app.state.service.wait_ready(120)
        r = client.get("/readyz")
        assert r.status_code == 200
        assert r.json()["status"] == "ready" and r.json()["paragraphs"] > 30
        assert client.post("/ask", json={"question": QUESTION}).json()["found"]


def test_rate_limit_answers_429_with_retry_after(settings: Settings, service: Service) -> None:
    app = create_app(with_settings(settings, rate_limit_per_minute=2), service=service)
    with TestClient(app) as client:
        codes = [client.post("/ask", json={"question": ""}).status_code for _ in range(3)]
        assert codes == [422, 422, 429]
        r = client.post("/ask", json={"question": QUESTION})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert client.get("/speakers").status_code == 200  # only /ask is limited


def test_load_shedding_answers_503_beyond_the_limit() -> None:
    async def scenario() -> list[int]:
        gate = asyncio.Event()

        async def slow(scope: Any, receive: Any, send: Any) -> None:
            await gate.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        shed = LoadShedding(slow, limit=1)
        statuses: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "path": "/ask", "method": "POST", "headers": []}
        first = asyncio.create_task(shed(scope, receive, send))
        await asyncio.sleep(0.01)
        await shed(scope, receive, send)  # refused at once
        gate.set()
        await first
        return statuses

    assert asyncio.run(scenario()) == [503, 200]


# ---------------------------------------------------------------- speakers and speeches


def test_speakers_lists_every_speaker_with_english_forms(client: TestClient) -> None:
    rows = client.get("/speakers").json()
    assert len(rows) == 9
    zhang = next(r for r in rows if r["name"] == "张平安")
    assert zhang["name_en"] == "Zhang Ping'an"
    assert zhang["organization"] == "华为技术有限公司" and zhang["organization_en"]
    assert zhang["title"] and zhang["title_en"]
    assert zhang["paragraphs"] == 4
    assert zhang["documents"] == ["wenhua-keji-zuotanhui"]


def test_speech_by_speaker_shows_the_quote_in_context(client: TestClient) -> None:
    quote = client.post("/ask", json={"question": QUESTION}).json()["quotes"][0]
    for key in (quote["speaker"], "Zhang Dong", "中国移动"):
        r = client.get(f"/speeches/{key}")
        assert r.status_code == 200, key
        speech = r.json()
        assert speech["speaker"] == "张冬"
        ids = [p["id"] for p in speech["paragraphs"]]
        assert quote["paragraph_id"] in ids
        para = next(p for p in speech["paragraphs"] if p["id"] == quote["paragraph_id"])
        assert para["text"] == quote["paragraph"]
        assert speech["document_info"][0]["source"] == "湖南日报"


def test_speech_by_document_and_unknown_key(client: TestClient) -> None:
    doc = client.get("/speeches/wenhua-keji-zuotanhui").json()
    assert doc["speaker"] is None and len({p["speaker"] for p in doc["paragraphs"]}) >= 9
    missing = client.get("/speeches/%3Cscript%3E")
    assert missing.status_code == 404
    assert "<script>" not in missing.text


# ---------------------------------------------------------------- headers, CORS, pages


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/", None),
        ("GET", "/docs", None),
        ("GET", "/openapi.json", None),
        ("GET", "/static/app.js", None),
        ("GET", "/static/app.css", None),
        ("GET", "/healthz", None),
        ("GET", "/readyz", None),
        ("GET", "/speakers", None),
        ("GET", "/speeches/张平安", None),
        ("GET", "/no/such/page", None),
        ("POST", "/ask", {"question": QUESTION}),
        ("POST", "/ask", {"question": ""}),
        ("PUT", "/ask", None),
    ],
)
def test_every_response_carries_security_headers(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    r = client.request(method, path, json=body)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"


def test_pages_have_a_strict_csp_and_no_inline_script(client: TestClient) -> None:
    for path in ("/", "/docs"):
        r = client.get(path)
        assert r.headers["content-type"].startswith("text/html")
        csp = dict(part.strip().split(" ", 1) for part in r.headers["content-security-policy"].split(";"))
        assert csp["default-src"] == "'self'"
        assert csp["script-src"] == "'self'"
        assert csp["frame-ancestors"] == "'none'"
        assert "unsafe" not in r.headers["content-security-policy"]
        page = parse_html(r.text)
        for tag, attrs in page.tags:
            assert not any(name.startswith("on") for name in attrs), (tag, attrs)
            assert "style" not in attrs, (tag, attrs)
            if tag == "script":
                assert attrs.get("src", "").startswith("/static/") or attrs.get("type") == "application/json"
            for name in ("src", "href"):
                url = attrs.get(name)
                if url:
                    assert url.startswith(("/", "#")), url  # nothing from another origin
        assert not any("<" in b and "script" in b.lower() for b in page.script_bodies)


def test_the_chat_page_embeds_its_data_as_json_not_script(client: TestClient) -> None:
    page = parse_html(client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text)
    html_tag = next(attrs for tag, attrs in page.tags if tag == "html")
    assert html_tag["lang"] == "zh-CN"
    boot = json.loads(page.script_bodies[-1])
    assert boot["limits"] == {"question": MAX_QUESTION_CHARS, "history": 20, "body": 65_536}
    assert len(boot["speakers"]) == 9
    assert set(boot["strings"]) == {"zh", "en"} and set(boot["strings"]["zh"]) == set(boot["strings"]["en"])
    english = parse_html(client.get("/", headers={"Accept-Language": "en-GB,en;q=0.8"}).text)
    assert next(attrs for tag, attrs in english.tags if tag == "html")["lang"] == "en"


def test_no_cors_by_default(client: TestClient) -> None:
    foreign = {"Origin": "https://evil.example"}
    r = client.post("/ask", json={"question": QUESTION}, headers=foreign)
    assert "access-control-allow-origin" not in r.headers
    pre = client.options(
        "/ask",
        headers={**foreign, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert "access-control-allow-origin" not in pre.headers
    assert pre.status_code in (405, 400)


def test_cors_allow_list(settings: Settings, service: Service) -> None:
    allowed = "https://intranet.example"
    app = create_app(with_settings(settings, cors_origins=[allowed]), service=service)
    with TestClient(app) as client:
        ok = client.get("/speakers", headers={"Origin": allowed})
        assert ok.headers["access-control-allow-origin"] == allowed
        other = client.get("/speakers", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        pre = client.options("/ask", headers={"Origin": allowed, "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == allowed


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/ask", "/speakers", "/speeches/{key}", "/healthz", "/readyz", "/feedback"):
        assert path in spec["paths"], path
    ask = spec["paths"]["/ask"]["post"]
    assert ask["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskRequest")
    for code in ("200", "413", "422", "503"):
        assert code in ask["responses"], code
    schema = spec["components"]["schemas"]["AskRequest"]
    assert schema["properties"]["top_k"]["maximum"] == 20
    assert client.get("/redoc").status_code == 404


# ---------------------------------------------------------------- feedback and the question log


def test_feedback_round_trip(client: TestClient, settings: Settings) -> None:
    answer = client.post("/ask", json={"question": QUESTION}).json()
    payload = {
        "ask_id": answer["ask_id"],
        "rating": "up",
        "question": answer["question"],
        "answer": answer["answer"],
        "found": answer["found"],
        "quote_ids": [q["paragraph_id"] for q in answer["quotes"]],
        "latency_ms": 42.5,
        "server_ms": answer["timings_ms"]["total"],
        "generation": answer["generation"],
        "language": answer["language"],
    }
    r = client.post("/feedback", json=payload)
    assert r.status_code == 201
    row_id = r.json()["id"]
    again = client.post("/feedback", json={**payload, "rating": "down", "comment": "  应该引用第6段  "})
    assert again.status_code == 201 and again.json()["id"] == row_id
    rows = [row for row in FeedbackStore(settings.feedback_db).feedback() if row["ask_id"] == answer["ask_id"]]
    assert len(rows) == 1
    row = rows[0]
    assert row["rating"] == "down" and row["comment"] == "应该引用第6段"
    assert row["question"] == QUESTION
    assert row["quote_ids"] == payload["quote_ids"]
    assert row["latency_ms"] == 42.5
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["created_at"])


@pytest.mark.parametrize(
    "change",
    [{"rating": "meh"}, {"ask_id": "../../etc"}, {"comment": "x" * 2001}, {"question": ""}, {"latency_ms": -1}],
)
def test_invalid_feedback_is_422(client: TestClient, change: dict[str, Any]) -> None:
    payload = {"ask_id": "a" * 32, "rating": "up", "question": QUESTION, **change}
    assert client.post("/feedback", json=payload).status_code == 422


def test_questions_are_logged_unless_turned_off(tmp_path: Path, settings: Settings, service: Service) -> None:
    on = with_settings(settings, feedback_db=tmp_path / "on.sqlite3")
    with TestClient(create_app(on, service=service)) as client:
        ask_id = client.post("/ask", json={"question": QUESTION, "top_k": 2}).json()["ask_id"]
    logged = FeedbackStore(on.feedback_db).questions()  # shutdown flushed the background writer
    assert [q["ask_id"] for q in logged] == [ask_id]
    assert logged[0]["question"] == QUESTION and logged[0]["top_k"] == 2 and logged[0]["found"] is True
    assert logged[0]["quote_ids"] and logged[0]["latency_ms"] > 0

    off = with_settings(settings, feedback_db=tmp_path / "off.sqlite3", log_questions=False)
    with TestClient(create_app(off, service=service)) as client:
        client.post("/ask", json={"question": QUESTION})
    assert FeedbackStore(off.feedback_db).questions() == []


def test_the_api_returns_the_profile(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "刘庆峰是谁？"}).json()
    assert body["intent"] == "profile" and body["profile"]["organization_en"] == "iFLYTEK"


def test_speeches_are_paged_and_the_editors_note_is_a_speech(client: TestClient) -> None:
    whole = client.get("/speeches/wenhua-keji-zuotanhui").json()
    assert whole["total_paragraphs"] == len(whole["paragraphs"]) and whole["next_offset"] is None
    first = client.get("/speeches/wenhua-keji-zuotanhui", params={"limit": 5}).json()
    assert [p["id"] for p in first["paragraphs"]] == [p["id"] for p in whole["paragraphs"][:5]]
    assert first["next_offset"] == 5 and first["total_paragraphs"] == whole["total_paragraphs"]
    rest = client.get("/speeches/wenhua-keji-zuotanhui", params={"offset": 5, "limit": 2000}).json()
    assert [p["id"] for p in first["paragraphs"] + rest["paragraphs"]] == [p["id"] for p in whole["paragraphs"]]
    assert client.get("/speeches/wenhua-keji-zuotanhui", params={"limit": 0}).status_code == 422
    note = client.get("/speeches/编者按").json()  # the editor's note: the page's own voice, not a person
    assert note["paragraphs"] and all(p["speaker"] == "编者按" for p in note["paragraphs"])


def test_unreadable_bodies_say_what_is_wrong(client: TestClient) -> None:
    json_type = {"content-type": "application/json"}
    latin = client.post("/ask", content=b'{"question": "\xff\xfe"}', headers=json_type)
    assert latin.status_code == 400 and "not UTF-8" in latin.json()["detail"]
    deep = client.post("/ask", content=b"[" * 5000 + b"]" * 5000, headers=json_type)
    assert deep.status_code == 400 and "nests too deeply" in deep.json()["detail"]
