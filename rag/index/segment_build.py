"""Making a segment's content from parsed documents: embed, index densely, tokenise, romanise, file the rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.corpus import Chunk, Document
from rag.embedding import Embedder
from rag.index import postings
from rag.index.build import Progress, VectorCache, make_dense_index
from rag.index.keywords import KeywordTokenizer
from rag.index.load import filed_row_lists
from rag.index.pinyin import PINYIN_PAIR_LIMIT, build_pinyin_lexicon
from rag.index.segment import SegmentContent, StoredDocument
from rag.script import to_simplified
from rag.settings import Settings


def new_words_pinyin(
    token_lists: list[list[str]],
    tokenizer: KeywordTokenizer,
    chunks: list[Chunk],
    known: Callable[[str], bool],
    pairs: bool,
) -> dict[str, str]:
    """The lexicon of the words this segment brings (most frequent first), with word pairs when `pairs`."""
    frequency: Counter[str] = Counter()
    for tokens in token_lists:
        frequency.update(set(tokens))
    vocabulary = [w for w, _ in sorted(frequency.items(), key=lambda kv: (-kv[1], kv[0])) if not known(w)]
    paragraphs = ([w for w, _ in tokenizer.words(c.text)] for c in chunks) if pairs else ()
    return build_pinyin_lexicon(vocabulary, paragraphs)


def content_from_documents(
    documents: list[Document],
    stored: list[StoredDocument],
    embedder: Embedder,
    settings: Settings,
    tokenizer: KeywordTokenizer,
    known_word: Callable[[str], bool],
    total_paragraphs: int,
    cache: VectorCache | None = None,
    progress: Progress | None = None,
) -> tuple[SegmentContent, Callable[[Path], None], tuple[int, int]]:
    """A segment's content for `documents`, the writer of its postings, and (texts embedded, texts reused)."""
    cache = cache if cache is not None else VectorCache()
    chunks = [c for d in documents for c in d.chunks]
    sentence_rows: list[tuple[int, int, int]] = []
    for row, chunk in enumerate(chunks):
        sentence_rows.extend((row, s, e) for s, e in chunk.units())
    sentence_texts = [chunks[r].text[s:e] for r, s, e in sentence_rows]
    # Embedded in simplified characters, so a question in either script meets a paragraph in either.
    texts = [to_simplified(c.text) for c in chunks] + [to_simplified(s) for s in sentence_texts]
    vectors, embedded, reused = cache.embed(texts, embedder, settings.embed_batch_size, progress)
    if not len(texts):
        vectors = np.zeros((0, embedder.dimension), dtype=np.float32)
    paragraph_vectors = vectors[: len(chunks)]
    dense, dense_info = make_dense_index(paragraph_vectors, settings.dense_index_threshold)
    token_lists = [tokenizer.tokens(c.text) for c in chunks]
    pinyin = new_words_pinyin(token_lists, tokenizer, chunks, known_word, total_paragraphs <= PINYIN_PAIR_LIMIT)
    content = SegmentContent(
        documents=stored,
        chunks=chunks,
        sources=[(d.info.slug, d.source_text) for d in documents],
        vectors=paragraph_vectors,
        sentences=np.asarray(sentence_rows, dtype=np.int32).reshape(-1, 3),
        sentence_vectors=vectors[len(chunks) :],
        dense=dense,
        dense_info=dense_info,
        pinyin=pinyin,
        rows=filed_row_lists(chunks),
    )
    return content, lambda folder: postings.write_postings(folder, token_lists), (embedded, reused)
