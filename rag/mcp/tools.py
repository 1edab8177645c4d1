"""What each MCP tool does, over a Service: the HTTP API's records, with "not found" as data."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from rag.errors import QuestionError, UnknownFilter
from rag.records import AskRequest
from rag.service import NotReady, Service
from rag.views import DocumentRef, document_summaries, speaker_summaries, speech_in_context


class ToolArgumentError(ToolError):
    """An argument the tool cannot use; the message says what is wrong and what would do (an MCP tool error)."""


def serving_index(service: Service) -> Any:
    try:
        return service.index()
    except NotReady as exc:
        raise ToolError("The index is still loading; retry in a few seconds.") from exc


class QuoteTools:
    """The four tools' bodies. Each returns a JSON object (a dict), the shape the HTTP API answers with."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def ask_quotes(
        self, question: str, speaker: str | None = None, document: str | None = None, top_k: int | None = None
    ) -> dict[str, Any]:
        index = serving_index(self.service)
        request = AskRequest(question, top_k=top_k, speaker=speaker, document=document)
        try:
            served = self.service.ask(request.checked(), index=index)
        except UnknownFilter as exc:
            known = exc.known_speakers or exc.known_documents
            hint = f" Known: {', '.join(known[:40])}." if known else ""
            raise ToolArgumentError(f"{exc}.{hint} list_speakers() and list_documents() give every name.") from exc
        except QuestionError as exc:
            raise ToolArgumentError(str(exc)) from exc
        answer = served.answer
        data = answer.to_json()
        cited = dict.fromkeys(q.document for q in (*answer.quotes, *answer.closest))
        data["documents"] = {
            slug: DocumentRef.of(doc).to_json() for slug in cited if (doc := index.document(slug)) is not None
        }
        data["cached"] = served.cached
        return data

    def list_speakers(self) -> dict[str, Any]:
        index = serving_index(self.service)
        speakers = index.memo("speaker_summaries", lambda: speaker_summaries(index))
        return {"speakers": [s.to_json() for s in speakers]}

    def list_documents(self) -> dict[str, Any]:
        return {"documents": [asdict(d) for d in document_summaries(serving_index(self.service))]}

    def get_speech(self, speaker_or_document: str) -> dict[str, Any]:
        key = speaker_or_document.strip()
        if not key:
            raise ToolArgumentError("speaker_or_document is empty: give a speaker's name or a document slug")
        found = speech_in_context(serving_index(self.service), key)
        if found is None:
            return {
                "found": False,
                "key": key,
                "message": f"No speaker or document named {key!r}. list_speakers() and list_documents() list them.",
            }
        return {"found": True, **asdict(found)}
