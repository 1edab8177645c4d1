"""Synthetic corpora of any size, written as a real index generation (`load_index` reads them).

How the data is made (all seeded, so every run sees the same corpus):

- Text. Each paragraph is 1–6 sentences (about 2.1 on average, like the real corpus) of about 12–40 words
  joined without spaces, with "，" between clauses and "。" at the end. Half the words are drawn from
  the real corpus's own words at their real frequencies, a quarter from a per-document topic list and
  a quarter from jieba's 350 k-word dictionary at its frequencies, so the vocabulary keeps growing with
  the corpus (Heaps' law) instead of saturating at the real corpus's ~1 000 words. The BM25 index is built
  from those words as drawn (the keyword filter applied: lower case, no stopwords or punctuation);
  jieba is not re-run over millions of generated paragraphs — its speed is measured on the real corpus.
- Vectors. A Gaussian fitted to the real paragraph and sentence vectors (mean and principal axes of the
  real 384-d embeddings, with a small isotropic tail for the dimensions the tiny corpus cannot span).
  Each document draws a centre from it; its paragraphs are the centre plus a second draw of the same
  spread; each sentence is its paragraph plus a smaller draw. Everything is L2-normalised. The mean
  pairwise cosine is reported beside the real corpus's. Queries are the real eval questions' embeddings
  plus paragraphs perturbed like sentences — recall is measured on both.
- Speakers. A pool of n/100 synthetic speakers (surname + given name drawn from common characters, a
  title and a "<word>科技有限公司") plus the real speakers; each document of 200 paragraphs has 5 of them.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.corpus import Chunk, DocumentInfo
from rag.index import layout
from rag.index.build import anchors_digest, make_dense_index, offtopic_anchors
from rag.index.generations import publish
from rag.index.keywords import STOPWORDS, KeywordIndex
from rag.index.layout import Counts, EmbedderRef, EmbeddingStats, Manifest
from rag.index.load import Index
from rag.index.pinyin import PINYIN_PAIR_LIMIT, build_pinyin_lexicon
from rag.speakers import Speaker

DOC_CHUNKS = 200
SPEAKERS_PER_DOC = 5
BLOCK = 50_000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰萍红娟建国志文斌宇浩凯鹏俊峰"
TITLES = ("董事长", "总经理", "副总经理", "总裁", "首席执行官", "党委书记", "院长", "创始人")
_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,4}$")


@dataclass
class Base:
    """What the synthetic corpus is drawn from: the real corpus's words, vectors and speakers."""

    words: list[str]
    word_p: np.ndarray
    dict_words: list[str]
    dict_p: np.ndarray
    mean: np.ndarray
    axes: np.ndarray  # (r, d) principal directions
    scales: np.ndarray  # (r,) standard deviations
    tail: float
    real_vectors: np.ndarray
    speakers: list[Speaker]
    anchor_vectors: np.ndarray
    embedder_id: str


def _jieba_dictionary() -> tuple[list[str], np.ndarray]:
    import jieba

    words: list[str] = []
    freqs: list[float] = []
    with open(jieba.get_dict_file().name, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split(" ")
            if len(parts) >= 2 and _CJK_WORD.match(parts[0]):
                words.append(parts[0])
                freqs.append(float(parts[1]))
    p = np.asarray(freqs)
    return words, p / p.sum()


def base_from(index: Index) -> Base:
    """The real corpus's word frequencies, vector distribution and speakers."""
    import jieba

    counts: Counter[str] = Counter()
    for chunk in index.chunks:
        counts.update(w for w in jieba.lcut(chunk.text) if w.strip() and re.search(r"\w", w))
    words = sorted(counts)
    p = np.asarray([counts[w] for w in words], dtype=np.float64)
    dict_words, dict_p = _jieba_dictionary()
    real = np.vstack([np.asarray(index.vectors), np.asarray(index.sentence_vectors)]).astype(np.float32)
    mean = real.mean(axis=0)
    _, s, vt = np.linalg.svd(real - mean, full_matrices=False)
    var = s**2 / len(real)
    keep = var > 1e-8
    return Base(
        words=words,
        word_p=p / p.sum(),
        dict_words=dict_words,
        dict_p=dict_p,
        mean=mean,
        axes=vt[keep].astype(np.float32),
        scales=np.sqrt(var[keep]).astype(np.float32),
        tail=float(np.sqrt(var[keep][-1])),
        real_vectors=real,
        speakers=[s for s in index.registry.speakers if s.kind == "person"],
        anchor_vectors=np.asarray(index.anchor_vectors, dtype=np.float32),
        embedder_id=index.manifest.embedder.id,
    )


def _draw(base: Base, rng: np.random.Generator, m: int, scale: float = 1.0) -> np.ndarray:
    """m samples of the fitted Gaussian's spread (no mean), times `scale`."""
    z = rng.standard_normal((m, len(base.scales)), dtype=np.float32) * base.scales
    tail = rng.standard_normal((m, base.mean.shape[0]), dtype=np.float32) * base.tail
    return (z @ base.axes + tail) * scale


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def mean_pairwise_cosine(vectors: np.ndarray, sample: int = 2000, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    pick = vectors[rng.choice(len(vectors), min(sample, len(vectors)), replace=False)]
    sims = np.asarray(pick, dtype=np.float32) @ np.asarray(pick, dtype=np.float32).T
    return round(float(sims[np.triu_indices(len(pick), 1)].mean()), 4)


def _speaker_pool(base: Base, n: int, rng: np.random.Generator) -> list[Speaker]:
    pool = list(base.speakers)
    seen = {s.name for s in pool}
    target = max(len(pool) + 5, n // 100)
    while len(pool) < target:
        name = SURNAMES[rng.integers(len(SURNAMES))] + "".join(
            GIVEN[i] for i in rng.integers(len(GIVEN), size=int(rng.integers(1, 3)))
        )
        if name in seen:
            continue
        seen.add(name)
        org = base.dict_words[int(rng.choice(len(base.dict_words), p=base.dict_p))] + "科技有限公司"
        pool.append(Speaker(name=name, title=TITLES[rng.integers(len(TITLES))], organization=org))
    return pool


@contextmanager
def _timed(timings: dict[str, float], key: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[key] = time.perf_counter() - started


@dataclass
class _Text:
    """What the text step hands on: each paragraph's keyword tokens, each sentence's span, each document."""

    tokens: list[list[str]]
    sentences: np.ndarray
    documents: list[DocumentInfo]


def write_generation(base: Base, n: int, index_dir: Path, threshold: int, seed: int = 0) -> dict[str, Any]:
    """Generate an n-paragraph corpus and publish it as the serving generation of `index_dir`."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    folder = _fresh_folder(index_dir, f"gen-synthetic-{n}")
    pool = _speaker_pool(base, n, rng)
    with _timed(timings, "vectors_s"):
        sent_counts = _write_vectors(base, rng, folder, n)
    with _timed(timings, "text_s"):
        text = _write_text(base, rng, folder, pool, sent_counts)
    with _timed(timings, "bm25_build_s"):
        keyword = KeywordIndex.build(text.tokens)
        (folder / layout.BM25).mkdir()
        keyword.save(folder / layout.BM25)
    with _timed(timings, "pinyin_s"):
        # The lexicon as rag.index.build.pinyin_for builds it, with the drawn words standing in for jieba's.
        pairs = text.tokens if n <= PINYIN_PAIR_LIMIT else []
        layout.write_pinyin(folder, build_pinyin_lexicon(keyword.vocabulary_by_frequency(), pairs))
        del pairs
    with _timed(timings, "dense_build_s"):
        dense, dense_info = make_dense_index(np.load(folder / layout.VECTORS, mmap_mode="r"), threshold)
        faiss.write_index(dense, str(folder / layout.DENSE))
        del dense
    layout.write_matrix(folder / layout.SENTENCES, text.sentences, np.int32)
    layout.write_matrix(folder / layout.ANCHOR_VECTORS, base.anchor_vectors)
    layout.write_documents(folder, text.documents)
    layout.write_speakers(folder, pool)
    layout.write_user_words(folder, sorted({s.name for s in pool} | {s.organization for s in pool}))
    with _timed(timings, "checksums_s"):
        manifest = Manifest(
            generation=folder.name,
            embedder=EmbedderRef(base.embedder_id, base.mean.shape[0]),
            corpus_hash="synthetic",
            counts=Counts(len(text.documents), n, len(text.sentences), len(pool)),
            dense_index=dense_info,
            anchors_sha256=anchors_digest(offtopic_anchors()),
            embedding=EmbeddingStats(0, 0),
            built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            build_seconds=round(time.perf_counter() - started, 3),
            files=layout.checksums(folder),
        )
        layout.write_manifest(folder, manifest)
        publish(index_dir, folder)
    timings["total_s"] = time.perf_counter() - started
    return {
        "folder": str(folder),
        "chunks": n,
        "sentences": len(text.sentences),
        "documents": len(text.documents),
        "speakers": len(pool),
        "dense_index": manifest.to_json()["dense_index"],
        "bytes_on_disk": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }


def _fresh_folder(index_dir: Path, name: str) -> Path:
    folder = index_dir / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def _write_vectors(base: Base, rng: np.random.Generator, folder: Path, n: int) -> np.ndarray:
    """Paragraph and sentence vectors, streamed to their .npy files in blocks; returns sentences per paragraph."""
    docs = (n + DOC_CHUNKS - 1) // DOC_CHUNKS
    d = base.mean.shape[0]
    centres = base.mean + _draw(base, rng, docs)
    vectors = np.lib.format.open_memmap(folder / layout.VECTORS, mode="w+", dtype=np.float32, shape=(n, d))
    sent_counts = np.minimum(1 + rng.poisson(1.1, size=n), 6).astype(np.int64)
    total = int(sent_counts.sum())
    sentence_vectors = np.lib.format.open_memmap(
        folder / layout.SENTENCE_VECTORS, mode="w+", dtype=np.float32, shape=(total, d)
    )
    owner = np.repeat(np.arange(n), sent_counts)
    for lo in range(0, n, BLOCK):
        hi = min(n, lo + BLOCK)
        vectors[lo:hi] = _normalise(centres[np.arange(lo, hi) // DOC_CHUNKS] + _draw(base, rng, hi - lo))
    for lo in range(0, total, BLOCK):
        hi = min(total, lo + BLOCK)
        sentence_vectors[lo:hi] = _normalise(np.asarray(vectors[owner[lo:hi]]) + _draw(base, rng, hi - lo, 0.5))
    vectors.flush()
    sentence_vectors.flush()
    return sent_counts


def _draw_word_ids(
    base: Base, rng: np.random.Generator, owner: np.ndarray, n_words: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every word of every sentence at once: half real corpus words, a quarter topic words, a quarter jieba's."""
    topic_size = 60
    total_words = int(n_words.sum())
    docs = int(owner[-1]) // DOC_CHUNKS + 1 if len(owner) else 0
    topics = rng.choice(len(base.dict_words), size=(docs, topic_size), p=base.dict_p).astype(np.int32)
    doc_of_word = np.repeat(owner // DOC_CHUNKS, n_words).astype(np.int32)
    src = rng.random(total_words, dtype=np.float32)
    n_real = len(base.words)
    return np.where(
        src < 0.5,
        rng.choice(n_real, size=total_words, p=base.word_p).astype(np.int32),
        n_real
        + np.where(
            src < 0.75,
            topics[doc_of_word, rng.integers(topic_size, size=total_words, dtype=np.int32)],
            rng.choice(len(base.dict_words), size=total_words, p=base.dict_p).astype(np.int32),
        ),
    ).astype(np.int32), topics


def _write_text(
    base: Base, rng: np.random.Generator, folder: Path, pool: list[Speaker], sent_counts: np.ndarray
) -> _Text:
    """Paragraph text, chunks, sources and BM25 tokens (words drawn in bulk; Python only joins strings)."""
    n = len(sent_counts)
    owner = np.repeat(np.arange(n), sent_counts)
    n_words = 12 + rng.poisson(14, size=len(owner))
    word_ids, topics = _draw_word_ids(base, rng, owner, n_words)
    vocab = [*base.words, *base.dict_words]
    lowered = [w.lower() for w in vocab]
    kept = np.array([w not in STOPWORDS for w in lowered], dtype=bool)[word_ids]
    tokens_vocab = np.array(lowered, dtype=object)
    words = np.array(vocab, dtype=object)[word_ids].tolist()
    word_start = np.concatenate([[0], np.cumsum(n_words)])
    sentence_texts = [
        "，".join("".join(ws[j : j + 7]) for j in range(0, len(ws), 7)) + "。"
        for ws in (words[word_start[i] : word_start[i + 1]] for i in range(len(owner)))
    ]
    del words
    sentence_start = np.concatenate([[0], np.cumsum(sent_counts)])
    text = _Text(tokens=[], sentences=np.zeros((len(owner), 3), dtype=np.int32), documents=[])
    sources: list[tuple[str, str]] = []

    def chunks() -> Iterator[Chunk]:
        for doc in range((n + DOC_CHUNKS - 1) // DOC_CHUNKS):
            slug = f"syn-{doc:06d}"
            people = [pool[i] for i in rng.choice(len(pool), size=SPEAKERS_PER_DOC, replace=False)]
            lines: list[str] = []
            offset = 0
            for number, row in enumerate(range(doc * DOC_CHUNKS, min(n, (doc + 1) * DOC_CHUNKS)), start=1):
                first, last = int(sentence_start[row]), int(sentence_start[row + 1])
                length = 0
                for j, part in enumerate(sentence_texts[first:last]):
                    text.sentences[first + j] = (row, length, length + len(part))
                    length += len(part)
                body = "".join(sentence_texts[first:last])
                a, b = int(word_start[first]), int(word_start[last])
                text.tokens.append(tokens_vocab[word_ids[a:b][kept[a:b]]].tolist() or [""])
                yield _chunk(slug, number, people[number % SPEAKERS_PER_DOC], body, offset)
                lines.append(body)
                offset += len(body) + 1
            source = "\n".join(lines) + "\n"
            sources.append((slug, source))
            text.documents.append(_document(slug, "".join(base.dict_words[i] for i in topics[doc, :4]), source))

    layout.write_chunks(folder, chunks())
    layout.write_sources(folder, sources)
    return text


def _chunk(slug: str, number: int, person: Speaker, body: str, offset: int) -> Chunk:
    return Chunk(
        id=f"{slug}-p{number}",
        document=slug,
        number=number,
        kind="speech",
        speaker=person.name,
        title=person.title,
        organization=person.organization,
        speaker_en=person.name_en,
        organization_en=person.organization_en,
        title_en=person.title_en,
        headline="",
        text=body,
        start=offset,
        end=offset + len(body),
        lines=(number,),
    )


def _document(slug: str, title: str, source: str) -> DocumentInfo:
    return DocumentInfo(
        slug=slug,
        title=title,
        subtitle="",
        source="synthetic",
        date="",
        event={},
        file=f"{slug}.txt",
        sha256=hashlib.sha256(source.encode("utf-8")).hexdigest(),
        format="synthetic",
    )


def queries(base: Base, question_vectors: np.ndarray, vectors: np.ndarray, m: int, seed: int = 1) -> np.ndarray:
    """The real eval questions' vectors plus m paragraphs perturbed like sentences (float32, normalised)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vectors), size=m, replace=False)
    near = _normalise(np.asarray(vectors[np.sort(rows)]) + _draw(base, rng, m, 0.5))
    return np.vstack([question_vectors, near]).astype(np.float32)
