"""The MCP server, through the SDK's own client: `rag mcp` over stdio, and /mcp on a real uvicorn on loopback.

Each transport lists the tools and calls every one; the quotes must be the corpus's own words, attributed to
the person whose paragraph they come from; bad arguments come back as MCP tool errors that say what is wrong.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult

from app.main import create_app
from app.serving import serving_in_thread
from rag import Index, Settings, load_corpus
from rag.service import Service

TOOLS = {"ask_quotes", "list_speakers", "get_speech", "list_documents"}
QUESTION = "中国移动目前全国客户规模有多少？"
UNANSWERABLE = "腾讯的马化腾在座谈会上说了什么？"


def paragraphs(settings: Settings) -> dict[str, Any]:
    return {c.id: c for d in load_corpus(settings.corpus_dir) for c in d.chunks}


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    text = json.loads(result.content[0].text)  # type: ignore[union-attr]
    assert text == result.structured_content  # the text block is the same record, for clients without structure
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result
    return " ".join(getattr(block, "text", "") for block in result.content)


async def exercise(client: Client, settings: Settings) -> None:
    """Everything both transports must do."""
    listed = await client.list_tools()
    tools = {t.name: t for t in listed.tools}
    assert set(tools) == TOOLS
    assert "verbatim" in (tools["ask_quotes"].description or "")
    assert "attribution" in (tools["ask_quotes"].description or "")
    assert tools["ask_quotes"].input_schema["required"] == ["question"]

    corpus = paragraphs(settings)
    answer = data(await client.call_tool("ask_quotes", {"question": QUESTION}))
    assert answer["found"] is True and answer["quotes"]
    for quote in answer["quotes"]:
        source = corpus[quote["paragraph_id"]]
        assert quote["text"] in source.text  # verbatim, by the corpus's own text
        assert quote["speaker"] == source.speaker and quote["speaker"]  # attributed to whose paragraph it is
        assert quote["document"] in answer["documents"]  # and the citation names the document
    assert "10亿" in answer["quotes"][0]["text"]

    missing = data(await client.call_tool("ask_quotes", {"question": UNANSWERABLE}))
    assert missing["found"] is False and missing["quotes"] == []  # not found is data, not an error

    speakers = data(await client.call_tool("list_speakers", {}))["speakers"]
    names = {s["name"] for s in speakers}
    assert "张冬" in names and len(names) >= 9

    documents = data(await client.call_tool("list_documents", {}))["documents"]
    assert [d["slug"] for d in documents] == ["wenhua-keji-zuotanhui"]

    filtered = data(await client.call_tool("ask_quotes", {"question": "人才", "speaker": "吴太兵", "top_k": 2}))
    assert filtered["quotes"] and {q["speaker"] for q in filtered["quotes"]} == {"吴太兵"}
    assert len(filtered["quotes"]) <= 2

    speech = data(await client.call_tool("get_speech", {"speaker_or_document": "张冬"}))
    assert speech["found"] is True and speech["speaker"] == "张冬"
    assert all(p["text"] in corpus[p["id"]].text for p in speech["paragraphs"])
    unknown = data(await client.call_tool("get_speech", {"speaker_or_document": "马化腾"}))
    assert unknown["found"] is False and "list_speakers" in unknown["message"]

    too_many = error_text(await client.call_tool("ask_quotes", {"question": QUESTION, "top_k": 99}))
    assert "top_k" in too_many and "20" in too_many
    empty = error_text(await client.call_tool("ask_quotes", {"question": "   "}))
    assert "question is empty" in empty
    missing_argument = error_text(await client.call_tool("ask_quotes", {}))
    assert "question" in missing_argument and "required" in missing_argument.lower()
    stranger = error_text(await client.call_tool("ask_quotes", {"question": QUESTION, "speaker": "马化腾"}))
    assert "马化腾" in stranger and "张冬" in stranger  # names the speakers that would do


def run(test: Callable[[], Awaitable[None]]) -> None:
    anyio.run(test)


def test_rag_mcp_over_stdio(settings: Settings, built: Path) -> None:
    env = {
        **os.environ,
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_INDEX_DIR": str(settings.index_dir),
        "RAG_FEEDBACK_DB": str(settings.feedback_db),
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "rag.cli", "mcp"], env=env)

    async def session() -> None:
        with anyio.fail_after(120):
            async with Client(params) as client:
                await exercise(client, settings)

    run(session)


def test_mcp_over_http_on_the_running_server(settings: Settings, index: Index) -> None:
    on = settings.model_copy(update={"mcp_http": True})
    app = create_app(on, service=Service(on, index=index))
    with serving_in_thread(app) as url:

        async def session() -> None:
            with anyio.fail_after(120):
                async with Client(f"{url}/mcp") as client:
                    await exercise(client, settings)

        run(session)


def test_mcp_is_off_unless_enabled(settings: Settings, index: Index) -> None:
    import http.client

    app = create_app(settings, service=Service(settings, index=index))
    with serving_in_thread(app) as url:
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("POST", "/mcp", body=b"{}", headers={"Content-Type": "application/json"})
        assert connection.getresponse().status == 404


def post(url: str, path: str, body: bytes) -> int:
    import http.client

    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        connection.request("POST", path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_mcp_is_behind_the_same_limits_as_ask(settings: Settings, index: Index) -> None:
    on = settings.model_copy(update={"mcp_http": True, "rate_limit_per_minute": 3, "max_body_bytes": 2048})
    app = create_app(on, service=Service(on, index=index))
    ping = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
    with serving_in_thread(app) as url:
        assert post(url, "/mcp", b"x" * 4096) == 413  # the body limit
        statuses = [post(url, "/mcp", ping) for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]  # the per-client rate limit of /ask
