"""The MCP server: four tools on the official SDK's MCPServer, served on stdio or mounted at /mcp."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from rag import __version__
from rag.mcp.tools import QuoteTools
from rag.records import MAX_QUESTION_CHARS, MAX_TOP_K, MIN_TOP_K
from rag.service import Service

NAME = "speech-quotes"
INSTRUCTIONS = (
    "Search speeches for what people said. Every quote these tools return is verbatim: the speaker's exact "
    "words, checked against the source. Cite a quote word for word, in quotation marks, with its attribution "
    "(speaker, title, organisation, and the document's title and source), never paraphrased as a quote. When "
    "`found` is false the speeches do not answer the question: say so, and do not present `closest` passages "
    "as an answer."
)
ASK_DESCRIPTION = (
    "Answer a question with verbatim, attributed quotes from the speeches (the same record as POST /ask). "
    "Each quote in `quotes` carries its exact `text`, `speaker`, `title`, `organization` and `paragraph_id`; "
    "`documents` gives each cited document's title, source and date. Quotes are verbatim: cite them exactly, "
    "with that attribution. `found: false` means the speeches do not answer it (not an error); `closest` "
    "passages are then not an answer. Filters: `speaker` (a name from list_speakers), `document` (a slug from "
    "list_documents)."
)
SPEAKERS_DESCRIPTION = (
    "Every speaker in the speeches: name, title, organisation, their English forms, aliases, the documents "
    "they speak in and their paragraph count. Use a name as ask_quotes' `speaker` or get_speech's argument."
)
DOCUMENTS_DESCRIPTION = (
    "Every document: slug, title, subtitle, source, date, event, speakers and paragraph count. Use a slug as "
    "ask_quotes' `document` or get_speech's argument."
)
SPEECH_DESCRIPTION = (
    "A speaker's whole speech (by name, English name or alias), or a whole document (by slug), paragraph by "
    "paragraph with ids. The text is verbatim: quote it exactly, attributed to its speaker. An unknown name "
    "returns `found: false` with a hint, not an error."
)

Question = Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="The question.")]
Filter = Annotated[str | None, Field(max_length=200, description="Optional filter; omit for none.")]
TopK = Annotated[int | None, Field(ge=MIN_TOP_K, le=MAX_TOP_K, description="How many quotes (default 5).")]
Key = Annotated[str, Field(min_length=1, max_length=200, description="A speaker's name or a document slug.")]


def build_server(service: Service) -> Any:
    """An MCPServer whose tools answer from `service` (its index, cache and hot reload)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    tools = QuoteTools(service)
    server = MCPServer(NAME, version=__version__, instructions=INSTRUCTIONS)
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(description=ASK_DESCRIPTION, annotations=read_only)
    def ask_quotes(
        question: Question,
        speaker: Filter = None,
        document: Filter = None,
        top_k: TopK = None,
    ) -> dict[str, Any]:
        return tools.ask_quotes(question, speaker, document, top_k)

    @server.tool(description=SPEAKERS_DESCRIPTION, annotations=read_only)
    def list_speakers() -> dict[str, Any]:
        return tools.list_speakers()

    @server.tool(description=DOCUMENTS_DESCRIPTION, annotations=read_only)
    def list_documents() -> dict[str, Any]:
        return tools.list_documents()

    @server.tool(description=SPEECH_DESCRIPTION, annotations=read_only)
    def get_speech(speaker_or_document: Key) -> dict[str, Any]:
        return tools.get_speech(speaker_or_document)

    return server


def mount_http(app: Any, service: Service, host: str) -> Any:
    """Add POST/GET/DELETE /mcp (streamable HTTP, stateless, JSON answers) to `app`; returns the session
    manager, whose `run()` the app's lifespan must enter."""
    server = build_server(service)
    # Only the routes: the FastAPI app's middleware (body limit, load shedding, rate limit, request ids,
    # security headers) wraps them like every other route. DNS-rebinding protection comes with a loopback host.
    starlette_app = server.streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True, host=host
    )
    app.router.routes.extend(starlette_app.routes)
    return server.session_manager
