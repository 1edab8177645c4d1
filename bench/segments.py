"""Segments at archive scale: a synthetic corpus written as a generation of many segments, then measured.

    python -m bench.segments --sizes 100000 1000000 --segments 20

For each size: the synthetic corpus of bench/synthetic.py (same text, vectors, speakers) is written as
`--segments` segments of tiered sizes (half the paragraphs in the first, then halving), published as one
generation. Then, in a fresh process as a server would: `load_index` time and resident memory, `ask`
minus its embedding on the eval questions (a first pass, then a second), dense recall@10 of the segmented
search against exact search over every vector. Then `rag add`'s index work for one real page (the corpus's page, parsed, embedded
with the bundled model, written as a new segment and published): wall time and bytes written, and the
reload of the new generation in a process that served the old one (only the new segment is opened).
Writes bench/out/segments.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import synthetic
from bench.common import ROOT, fresh_import_s, memory_mb, stats

K = 10


class _NoEmbedder:
    """Stands in for the model when a synthetic generation is published (its anchors come from the cache)."""

    def __init__(self, embedder_id: str, dimension: int) -> None:
        self.id = embedder_id
        self.dimension = dimension

    def embed_batch(self, texts: Sequence[str], kind: str) -> np.ndarray:
        raise RuntimeError("the synthetic writer embeds nothing")


def tiered_sizes(documents: int, segments: int) -> list[int]:
    """Documents per segment: half in the first, then halving (at least one each)."""
    sizes = []
    left = documents
    for i in range(segments):
        size = left if i == segments - 1 else max(1, left // 2)
        size = min(size, left - (segments - 1 - i))
        sizes.append(size)
        left -= size
    return [s for s in sizes if s > 0]


def write_segmented(base: synthetic.Base, n: int, index_dir: Path, threshold: int, segments: int) -> dict[str, Any]:
    """The synthetic n-paragraph corpus as a generation of `segments` segments; returns what was written."""
    from rag.index import postings
    from rag.index.build import VectorCache, make_dense_index, offtopic_anchors, text_key
    from rag.index.layout import SegmentRef, read_chunks, sha256_file
    from rag.index.load import filed_row_lists
    from rag.index.pinyin import build_pinyin_lexicon
    from rag.index.segment import SEGMENT_MANIFEST, SegmentContent, StoredDocument, write_segment
    from rag.index.sync import LiveSegment, publish_generation
    from rag.settings import Settings

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    work = index_dir / ".synthetic-flat"
    if index_dir.exists():
        shutil.rmtree(index_dir)
    work.mkdir(parents=True)
    pool = synthetic._speaker_pool(base, n, rng)
    sent_counts = synthetic._write_vectors(base, rng, work, n)
    text = synthetic._write_text(base, rng, work, pool, sent_counts)
    chunks = list(read_chunks(work))
    vectors = np.load(work / "vectors.npy", mmap_mode="r")
    sentence_vectors = np.load(work / "sentence_vectors.npy", mmap_mode="r")
    sentence_starts = np.searchsorted(text.sentences[:, 0], np.arange(n + 1))
    by_name = {s.name: s for s in pool}
    vocabulary = sorted({t for tokens in text.tokens for t in tokens})
    pinyin = build_pinyin_lexicon(vocabulary)  # the whole vocabulary in the first segment, as one build would
    settings = Settings(index_dir=index_dir, dense_index_threshold=threshold)
    embedder = _NoEmbedder(base.embedder_id, base.mean.shape[0])
    ref_embedder = synthetic.EmbedderRef(base.embedder_id, base.mean.shape[0])
    written: list[LiveSegment] = []
    doc_at = 0
    for count in tiered_sizes(len(text.documents), segments):
        docs = text.documents[doc_at : doc_at + count]
        a = doc_at * synthetic.DOC_CHUNKS
        b = min(n, (doc_at + count) * synthetic.DOC_CHUNKS)
        doc_at += count
        own = chunks[a:b]
        s_a, s_b = int(sentence_starts[a]), int(sentence_starts[b])
        sentences = np.array(text.sentences[s_a:s_b], dtype=np.int32)
        sentences[:, 0] -= a
        seg_vectors = np.asarray(vectors[a:b], dtype=np.float32)
        dense, dense_info = make_dense_index(seg_vectors, threshold)
        stored = [
            StoredDocument(d, tuple(by_name[c.speaker] for c in own if c.document == d.slug)[:5], "", {}, "")
            for d in docs
        ]
        content = SegmentContent(
            documents=stored,
            chunks=own,
            sources=[(d.slug, (work / "sources" / f"{d.slug}.txt").read_text(encoding="utf-8")) for d in docs],
            vectors=seg_vectors,
            sentences=sentences,
            sentence_vectors=np.asarray(sentence_vectors[s_a:s_b], dtype=np.float32),
            dense=dense,
            dense_info=dense_info,
            pinyin=pinyin if not written else {},
            rows=filed_row_lists(own),
        )
        tokens = text.tokens[a:b]
        manifest = write_segment(
            index_dir / "segments", content, ref_embedder, lambda folder, t=tokens: postings.write_postings(folder, t)
        )
        folder = index_dir / "segments" / manifest.name
        ref = SegmentRef(manifest.name, sha256_file(folder / SEGMENT_MANIFEST), manifest.counts.chunks)
        written.append(LiveSegment(ref, manifest, folder, stored))
        del dense, content
    cache = VectorCache()
    for anchor, vector in zip(offtopic_anchors(), base.anchor_vectors, strict=True):
        cache.vectors[text_key(anchor)] = vector
    generation = publish_generation(settings, embedder, written, "synthetic", started, cache=cache)  # type: ignore[arg-type]
    shutil.rmtree(work)
    return {
        "generation": generation.name,
        "segments": [s.manifest.counts.chunks for s in written],
        "dense_indexes": sorted({s.manifest.dense_index.type for s in written}),
        "bytes_on_disk": sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()),
        "write_s": round(time.perf_counter() - started, 1),
    }


# ---------------------------------------------------------------- in a fresh process


def probe(index_dir: Path, queries_file: Path) -> dict[str, Any]:
    """Load as a server does, answer the eval questions, measure dense recall, then add the real page.

    `ready_s` adds up the steps a `rag serve` worker takes before GET /readyz answers 200 (bench/build.py's
    probe): importing the app, the model, `load_index`, and the warm-up answer. The import is timed in a
    fresh interpreter of its own: this one has imported numpy, faiss and half the library already.
    """
    import_s = fresh_import_s("app.main")  # what a worker imports: FastAPI, the app, the library
    import app.main  # noqa: F401  (here too, so that the steps below do not count its imports again)
    from bench.scale import exact_topk, recall
    from rag import get_embedder, get_settings, load_index
    from rag.answer import ask
    from rag.corpus import load_corpus
    from rag.index.generations import build_lock
    from rag.index.sync import new_segment, publish_generation, serving_segments
    from rag.service import Service

    before = memory_mb()
    t = time.perf_counter()
    settings = get_settings(corpus_dir=ROOT / "corpus", index_dir=index_dir, cache_size=0)
    embedder = get_embedder(settings)
    model_s = time.perf_counter() - t
    with_model = memory_mb()
    t = time.perf_counter()
    index = load_index(settings, embedder)
    load_s = time.perf_counter() - t
    loaded = memory_mb()
    t = time.perf_counter()
    Service(settings, index=index)._warm_up(index)
    warm_up_s = time.perf_counter() - t
    payload = json.loads(queries_file.read_text(encoding="utf-8"))
    questions = [q["question"] for q in payload["questions"]]
    question_vectors = np.load(payload["vectors"])
    t = time.perf_counter()
    ask(index, questions[0], settings)
    first_ask_s = time.perf_counter() - t
    own_work: list[float] = []
    warm_work: list[float] = []  # a second pass: each word's BM25 weights and the vectors' pages already at hand
    for work in (own_work, warm_work):
        for question in questions:
            answer = ask(index, question, settings)
            work.append(answer.timings_ms["search"] + answer.timings_ms["answer"])
    served = memory_mb()

    # Dense recall@10 of the segmented search (every segment's best, merged) against exact search.
    found = np.stack([np.argsort(-index.store.dense_search(v, K, None), kind="stable")[:K] for v in question_vectors])
    truth = exact_topk(np.asarray(index.vectors), question_vectors, K)
    dense_recall = recall(found, truth)

    # `rag add`'s index work for one page: parse, embed, write its segment, publish; then reload.
    page = load_corpus(ROOT / "corpus")
    segments_dir = index_dir / "segments"
    names_before = {p.name for p in segments_dir.iterdir()}
    t = time.perf_counter()
    with build_lock(index_dir):
        serving = serving_segments(index_dir, embedder)
        assert serving is not None
        folder, _, live = serving
        segment, _ = new_segment(settings, embedder, page, {}, live, None)
        published = publish_generation(settings, embedder, [*live, segment], "synthetic+page", t, previous=folder)
    add_s = time.perf_counter() - t
    new_names = {p.name for p in segments_dir.iterdir()} - names_before
    segment_bytes = sum(p.stat().st_size for s in new_names for p in (segments_dir / s).rglob("*") if p.is_file())
    generation_bytes = sum(p.stat().st_size for p in published.iterdir() if p.is_file() and p.stat().st_nlink == 1)
    t = time.perf_counter()
    reloaded = load_index(settings, embedder)
    reload_s = time.perf_counter() - t
    assert len(reloaded.chunks) == len(index.chunks) + sum(len(d.chunks) for d in page)
    return {
        "chunks": len(index.chunks),
        "segments": len(index.manifest.segments),
        "load_s": round(load_s, 2),
        "ready_s": round(import_s + model_s + load_s + warm_up_s, 2),
        "ready_steps_s": {
            "import": round(import_s, 2),
            "model": round(model_s, 2),
            "load_index": round(load_s, 2),
            "warm_up": round(warm_up_s, 2),
        },
        "first_ask_s": round(first_ask_s, 2),
        "memory_mb": {"start": before, "with_model": with_model, "loaded": loaded, "after_queries": served},
        "rss_mb": served.get("rss"),
        "ask_without_embedding_ms": stats(own_work),
        "ask_without_embedding_second_pass_ms": stats(warm_work),
        "dense_recall_at_10": dense_recall,
        "add": {
            "paragraphs": sum(len(d.chunks) for d in page),
            "seconds": round(add_s, 2),
            "segment_bytes": segment_bytes,
            "generation_bytes_written": generation_bytes,
            "bytes_written_over_segment": round((segment_bytes + generation_bytes) / max(1, segment_bytes), 3),
            "reload_s": round(reload_s, 3),
        },
    }


def run(sizes: list[int], segments: int, work: Path) -> dict[str, Any]:
    from rag import ensure_index, get_embedder, get_settings

    settings = get_settings()
    index = ensure_index(settings, get_embedder(settings))
    base = synthetic.base_from(index)
    from rag.eval.gold import load_questions

    questions = [q.question for q in load_questions(ROOT / "eval" / "questions.jsonl")]
    vectors = np.stack([index.embedder.embed_query(q) for q in questions]).astype(np.float32)
    np.save(work / "segments-question-vectors.npy", vectors)
    queries_file = work / "segments-queries.json"
    queries_file.write_text(
        json.dumps(
            {"vectors": str(work / "segments-question-vectors.npy"), "questions": [{"question": q} for q in questions]}
        ),
        encoding="utf-8",
    )
    out = []
    for n in sizes:
        index_dir = work / f"segments-{n}"
        try:
            written = write_segmented(base, n, index_dir, settings.dense_index_threshold, segments)
            done = subprocess.run(
                [sys.executable, "-m", "bench.segments", "--probe", str(index_dir), str(queries_file)],
                cwd=ROOT, capture_output=True, text=True, timeout=3600,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"segments probe for {n} failed:\n{done.stderr[-3000:]}")
            out.append(
                {"paragraphs": n, "written": written, "served": json.loads(done.stdout.strip().splitlines()[-1])}
            )
            print(json.dumps(out[-1]), file=sys.stderr, flush=True)
        finally:
            shutil.rmtree(index_dir, ignore_errors=True)
    return {"segments": segments, "sizes": out}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.segments", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--segments", type=int, default=20)
    parser.add_argument("--probe", nargs=2, type=Path, metavar=("INDEX_DIR", "QUERIES_JSON"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe[0], args.probe[1])))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "work"
    work.mkdir(exist_ok=True)
    os.environ.setdefault("RAG_INDEX_DIR", str(args.out / "index"))
    result = run(args.sizes, args.segments, work)
    (args.out / "segments.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
