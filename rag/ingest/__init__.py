"""Adding and removing documents: read uploads, validate them before any write, store them, re-index.

`records` holds what is given and reported, `uploads` reads files given on the command line, `check`
validates a batch against the store, `store` changes the corpus and publishes a new index generation.
"""

from rag.ingest.check import SLUG, content_hash, derive_slug, prepare
from rag.ingest.records import Added, AddReport, DocumentSummary, Fields, RemoveReport, Upload
from rag.ingest.store import add_documents, list_documents, remove_document
from rag.ingest.uploads import expand_paths, read_upload

__all__ = [
    "SLUG",
    "AddReport",
    "Added",
    "DocumentSummary",
    "Fields",
    "RemoveReport",
    "Upload",
    "add_documents",
    "content_hash",
    "derive_slug",
    "expand_paths",
    "list_documents",
    "prepare",
    "read_upload",
    "remove_document",
]
