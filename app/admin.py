"""Admin endpoints: upload and remove documents (`POST /documents`, `DELETE /documents/{id}`).

Enabled only when `RAG_ADMIN_TOKEN` is set; without it they answer 404 like any unknown path. Requests need
`Authorization: Bearer <token>` (401 otherwise). Uploads go through the same validation as `rag add`; the
new generation is served by every worker before the response (`all_workers_serving`), so the next question
sees the change whichever worker it reaches.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app.deps import ServiceDep, SettingsDep
from rag import Settings
from rag.errors import Conflict, CorpusError, IngestError, StoreBroken, TooLarge, UnknownDocument
from rag.index import readers
from rag.ingest.check import SLUG
from rag.ingest.records import DocumentSummary, Fields, Upload
from rag.ingest.store import add_documents, remove_document
from rag.service import Service

log = logging.getLogger("app.admin")

FORM_FIELDS = ("title", "date", "source", "slug", "format")


class AddedOut(BaseModel):
    status: str  # "added" | "duplicate"
    document: DocumentSummary
    generation: str | None
    embedded: int
    reused: int
    all_workers_serving: bool = True  # False: some worker had not loaded `generation` within WORKERS_WAIT_S


class RemovedOut(BaseModel):
    status: str  # "removed"
    document: DocumentSummary
    generation: str
    all_workers_serving: bool = True


class AdminError(BaseModel):
    detail: str


def require_admin(request: Request, settings: SettingsDep) -> None:
    """404 when admin is disabled; 401 unless the request carries the bearer token."""
    if not settings.admin_token:
        raise HTTPException(status_code=404, detail="Not Found")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.admin_token.encode("utf-8")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("latin-1"), expected):
        raise HTTPException(
            status_code=401,
            detail="Admin endpoints need the header `Authorization: Bearer <RAG_ADMIN_TOKEN>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )


Admin = Annotated[None, Depends(require_admin)]
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": AdminError, "description": "Missing or wrong bearer token."},
    404: {"model": AdminError, "description": "Admin disabled (no RAG_ADMIN_TOKEN), or no such document."},
    409: {"model": AdminError, "description": "Slug already in use, or removing the only document."},
    413: {"model": AdminError, "description": "Document over RAG_MAX_DOCUMENT_BYTES."},
    422: {"model": AdminError, "description": "Refused document: encoding, format, no speaker, bad field…"},
}

router = APIRouter(tags=["admin"])


@router.post(
    "/documents",
    status_code=201,
    response_model=AddedOut,
    responses={**RESPONSES, 200: {"model": AddedOut, "description": "Same content already stored: no-op."}},
    summary="Add a document (multipart: `file`, optional `meta`, `title`, `date`, `source`, `slug`, `format`)",
)
async def add_document(
    _: Admin, request: Request, response: Response, settings: SettingsDep, service: ServiceDep
) -> dict[str, Any]:
    """Validate, store and index one document; the new generation serves before this returns."""
    upload, fields = await _read_upload(request, settings)
    try:
        report = await run_in_threadpool(add_documents, settings, [upload], fields)
    except StoreBroken:
        raise  # the server's fault, not the upload's: logged, and answered 503 by the app
    except TooLarge as exc:
        raise HTTPException(status_code=413, detail=str(exc)) from None
    except Conflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except (CorpusError, IngestError) as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    result = report.results[0]
    if result.status == "duplicate":
        response.status_code = 200
    else:
        log.info("admin added document %s (generation %s)", result.document.slug, report.generation)
    everywhere = True
    if report.generation is not None:
        everywhere = await _served_everywhere(service, settings, report.generation)
    return {
        "status": result.status,
        "document": result.document.to_json(),
        "generation": report.generation,
        "embedded": report.embedded,
        "reused": report.reused,
        "all_workers_serving": everywhere,
    }


WORKERS_WAIT_S = 60.0


async def _served_everywhere(service: Service, settings: Settings, generation: str) -> bool:
    """Load `generation` here, then wait until every worker serving this index serves it (issue 18)."""
    await run_in_threadpool(service.refresh, force=True, wait=True)
    served = await run_in_threadpool(readers.wait_until_served, settings.index_dir, generation, WORKERS_WAIT_S)
    if not served:
        log.warning("generation %s published, but not every worker serves it after %.0f s", generation, WORKERS_WAIT_S)
    return served


@router.delete(
    "/documents/{document_id}",
    response_model=RemovedOut,
    responses=RESPONSES,
    summary="Remove a document by its id",
)
async def delete_document(_: Admin, document_id: str, settings: SettingsDep, service: ServiceDep) -> dict[str, Any]:
    """Take the document out of the corpus; the generation without it serves before this returns."""
    if not SLUG.match(document_id):
        raise HTTPException(status_code=404, detail=f"No document `{document_id[:80]}`.")
    try:
        report = await run_in_threadpool(remove_document, settings, document_id)
    except UnknownDocument as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except Conflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    log.info("admin removed document %s (generation %s)", document_id, report.generation)
    everywhere = await _served_everywhere(service, settings, report.generation)
    return {**report.to_json(), "all_workers_serving": everywhere}


async def _read_upload(request: Request, settings: Settings) -> tuple[Upload, Fields]:
    """The `file` part (and optional `meta` JSON and document fields) of a multipart form."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(status_code=422, detail="Send the document as multipart/form-data with a `file` part.")
    async with request.form(max_files=2, max_fields=len(FORM_FIELDS) + 1) as form:
        if len(form.getlist("file")) > 1:
            raise HTTPException(status_code=422, detail="Send one `file` part per request (this form has several).")
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            raise HTTPException(status_code=422, detail="The form needs a `file` part with a file name.")
        data = await file.read(settings.max_document_bytes + 1)
        if len(data) > settings.max_document_bytes:
            raise HTTPException(
                status_code=413,
                detail=f"{file.filename}: the file is over the limit of {settings.max_document_bytes} bytes.",
            )
        meta = await _meta(form.get("meta"))
        values = {key: form.get(key) for key in FORM_FIELDS}
        if any(v is not None and not isinstance(v, str) for v in values.values()):
            raise HTTPException(status_code=422, detail="title, date, source, slug and format must be text fields.")
        fields = Fields(**{k: (v or None) for k, v in values.items()})  # type: ignore[arg-type]
        return Upload(name=file.filename, data=data, meta=meta), fields


async def _meta(part: UploadFile | str | None) -> dict[str, Any]:
    if part is None:
        return {}
    raw = await part.read(256 * 1024) if isinstance(part, UploadFile) else part.encode("utf-8")
    try:
        meta = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPException(status_code=422, detail=f"`meta` is not valid UTF-8 JSON ({exc}).") from None
    if not isinstance(meta, dict):
        raise HTTPException(status_code=422, detail="`meta` must be a JSON object.")
    return meta
