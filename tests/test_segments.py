"""Generations of segments: an add writes only its own segment, search over segments ranks as one merged
index, deletions, merges, and refusals of damaged or inconsistent segments."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support.embedder import FakeEmbedder
from support.segments import segment_folders

from rag import Settings, build_index, load_index
from rag.errors import IndexUnavailable
from rag.index.generations import SEGMENTS, build_lock, cleanup, current_generation
from rag.index.load import Index
from rag.index.merge import optimize, plan_merge
from rag.index.sync import serving_segments
from rag.retrieval import search

SPEECHES = Path(__file__).resolve().parent / "fixtures" / "speeches"
EXTRA = ["interview-qa.txt", "news-xinhua.txt", "press-numbered.txt"]
QUESTIONS = [
    "中国移动目前全国客户规模有多少？",
    "华为云在湖南做了什么？",
    "记者问了什么问题？",
    "新华社报道了什么？",
    "文化和科技融合",
    "人工智能大模型",
    "发布会上介绍了哪些数字？",
]


def _settings(tmp_path: Path, corpus_dir: Path, name: str) -> Settings:
    corpus = tmp_path / f"{name}-corpus"
    shutil.copytree(corpus_dir, corpus)
    return Settings(corpus_dir=corpus, index_dir=tmp_path / f"{name}-index")


def _add_files(settings: Settings, names: list[str]) -> None:
    for name in names:
        shutil.copyfile(SPEECHES / name, settings.corpus_dir / name)


def _ranking(index: Index, settings: Settings, question: str, mode: str) -> list[tuple[str, float]]:
    result = search(index, question, settings, top_k=8, mode=mode)  # type: ignore[arg-type]
    return [(h.chunk.id, round(float(h.score), 5)) for h in result.hits[:8]]


def _bytes_under(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.fixture()
def grown(tmp_path: Path, corpus_dir: Path) -> Settings:
    """An index built from the real corpus, then grown by three adds: four segments."""
    settings = _settings(tmp_path, corpus_dir, "grown")
    build_index(settings, FakeEmbedder())
    for name in EXTRA:
        _add_files(settings, [name])
        build_index(settings, FakeEmbedder(), reuse_vectors=True)
    return settings


def test_an_add_writes_one_segment_and_leaves_the_others_untouched(tmp_path: Path, corpus_dir: Path) -> None:
    settings = _settings(tmp_path, corpus_dir, "one")
    first = build_index(settings, FakeEmbedder())
    (old,) = segment_folders(first)
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in old.iterdir() if p.is_file()}
    _add_files(settings, ["news-xinhua.txt"])
    embedder = FakeEmbedder()
    second = build_index(settings, embedder, reuse_vectors=True)

    folders = segment_folders(second)
    assert folders[0] == old and len(folders) == 2
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in old.iterdir() if p.is_file()} == before
    new = folders[1]
    assert json.loads((new / "documents.json").read_text(encoding="utf-8"))[0]["info"]["file"] == "news-xinhua.txt"
    # Only the new document's texts were embedded (the off-topic anchors' vectors were linked, not embedded).
    index = load_index(settings, FakeEmbedder())
    slug = next(d.slug for d in index.documents if d.file == "news-xinhua.txt")
    own = [c for c in index.chunks if c.document == slug]
    assert set(embedder.embedded) <= {c.text for c in own} | {c.text[s:e] for c in own for s, e in c.units()}
    # What the add wrote: its own segment, and a generation folder of a manifest and a hard link.
    written = _bytes_under(new) + (second / "manifest.json").stat().st_size
    assert (second / "anchor_vectors.npy").stat().st_nlink >= 2
    assert written <= 2 * _bytes_under(new) + 4096
    assert len(index.chunks) == 36 + len(own)


def _scores_by_id(index: Index, question: str) -> tuple[dict[str, float], dict[str, float]]:
    vector = index.embedder.embed_query(question)
    dense = index.store.dense_search(vector, len(index.chunks), None)
    keyword = index.store.keyword_scores(index.tokenizer.tokens(question), len(index.chunks), None)
    ids = [c.id for c in index.chunks]
    return (
        {i: round(float(v), 5) for i, v in zip(ids, dense, strict=True)},
        {i: round(float(v), 4) for i, v in zip(ids, keyword, strict=True)},
    )


def test_segments_score_like_one_index_built_from_scratch(grown: Settings, tmp_path: Path) -> None:
    scratch = grown.model_copy(update={"index_dir": tmp_path / "scratch-index"})
    build_index(scratch, FakeEmbedder())
    many, one = load_index(grown, FakeEmbedder()), load_index(scratch, FakeEmbedder())
    assert len(many.manifest.segments) == 4 and len(one.manifest.segments) == 1
    assert {c.id for c in many.chunks} == {c.id for c in one.chunks}
    for question in QUESTIONS:
        # Every paragraph's dense and BM25 score is the same: BM25's statistics are the generation's, not a segment's.
        assert _scores_by_id(many, question) == _scores_by_id(one, question), question
        assert many.store.doc_freq("中国移动") == one.store.doc_freq("中国移动") > 0
    assert many.store.vocabulary() == one.store.vocabulary()
    latin = {w for w in one.store.vocabulary() if w.isascii()}
    assert many.store.ascii_vocabulary() == one.store.ascii_vocabulary() == latin and len(latin) > 1


def test_a_full_merge_ranks_exactly_as_the_segments_did(grown: Settings) -> None:
    before = load_index(grown, FakeEmbedder())
    rankings = {(q, m): _ranking(before, grown, q, m) for q in QUESTIONS for m in ("dense", "keyword", "hybrid")}
    report = optimize(grown, FakeEmbedder(), full=True)
    assert report.segments_before == 4 and report.segments_after == 1
    after = load_index(grown, FakeEmbedder())
    assert [c.id for c in after.chunks] == [c.id for c in before.chunks]
    assert np.array_equal(np.asarray(after.vectors), np.asarray(before.vectors))
    assert np.array_equal(after.sentences, before.sentences)
    for (q, m), ranking in rankings.items():
        assert _ranking(after, grown, q, m) == ranking, (q, m)
    # Only the generations kept (serving, previous) name segments; the others were removed.
    with build_lock(grown.index_dir):
        cleanup(grown.index_dir)
    named = {s.name for g in grown.index_dir.glob("gen-*") for s in load_manifest_segments(g)}
    assert {p.name for p in (grown.index_dir / SEGMENTS).iterdir()} == named


def load_manifest_segments(generation: Path) -> list[Path]:
    return segment_folders(generation)


def test_a_removed_document_is_deleted_without_rewriting_its_segment(tmp_path: Path, corpus_dir: Path) -> None:
    settings = _settings(tmp_path, corpus_dir, "removal")
    build_index(settings, FakeEmbedder())
    _add_files(settings, EXTRA)  # one add of three files: one segment of three documents
    build_index(settings, FakeEmbedder(), reuse_vectors=True)
    before = load_index(settings, FakeEmbedder())
    target = next(d for d in before.documents if d.file == "news-xinhua.txt")
    (settings.corpus_dir / target.file).unlink()
    folder = build_index(settings, FakeEmbedder(), reuse_vectors=True)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in manifest["segments"]] == [s.name for s in before.manifest.segments]
    assert manifest["deleted"] == {before.manifest.segments[1].name: [target.slug]}
    index = load_index(settings, FakeEmbedder())
    assert target.slug not in {d.slug for d in index.documents}
    assert all(c.document != target.slug for c in index.chunks)
    assert len(index.chunks) == len(before.chunks) - len(before.rows_by_document[target.slug])
    assert target.slug not in index.rows_by_document
    for question in QUESTIONS:
        assert all(h.chunk.document != target.slug for h in search(index, question, settings, top_k=20).hits)
    # A full merge drops the deleted rows for good and ranks as before.
    rankings = {q: _ranking(index, settings, q, "hybrid") for q in QUESTIONS}
    optimize(settings, FakeEmbedder(), full=True)
    merged = load_index(settings, FakeEmbedder())
    assert merged.manifest.deleted == {} and len(merged.manifest.segments) == 1
    assert [c.id for c in merged.chunks] == [c.id for c in index.chunks]
    assert {q: _ranking(merged, settings, q, "hybrid") for q in QUESTIONS} == rankings


def test_a_corrupted_segment_is_refused_with_the_fix(grown: Settings) -> None:
    folder = segment_folders(Path(grown.index_dir / current_generation(grown.index_dir)))[2]  # type: ignore[operator]
    data = bytearray((folder / "vectors.npy").read_bytes())
    data[-7] ^= 0xFF
    (folder / "vectors.npy").write_bytes(bytes(data))
    with pytest.raises(IndexUnavailable, match=r"vectors\.npy in segment .* corrupt.*rag build --force"):
        load_index(grown, FakeEmbedder())


def test_a_generation_naming_a_segment_twice_is_refused(grown: Settings) -> None:
    generation = grown.index_dir / str(current_generation(grown.index_dir))
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    manifest["segments"].append(manifest["segments"][0])
    (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexUnavailable, match=r"corrupt|twice"):
        load_index(grown, FakeEmbedder())


def test_orphaned_and_half_written_segments_are_removed_by_the_next_clean_up(grown: Settings) -> None:
    segments = grown.index_dir / SEGMENTS
    orphan = segments / "seg-20000101T000000.000000000-abcdef"
    shutil.copytree(next(p for p in segments.iterdir()), orphan)
    (segments / ".tmp-seg-20000101T000000.000000001-abcdef").mkdir()
    with build_lock(grown.index_dir):
        removed = cleanup(grown.index_dir)
    assert f"{SEGMENTS}/{orphan.name}" in removed
    assert not orphan.exists() and not list(segments.glob(".tmp-*"))
    assert len(load_index(grown, FakeEmbedder()).manifest.segments) == 4


def test_tiered_policy_merges_a_full_tier_only(tmp_path: Path, corpus_dir: Path) -> None:
    settings = _settings(tmp_path, corpus_dir, "tiers")
    build_index(settings, FakeEmbedder())
    serving = serving_segments(settings.index_dir, FakeEmbedder())
    assert serving is not None and plan_merge(serving[2], settings) == []
    assert optimize(settings, FakeEmbedder()).generation is None


def test_adds_merge_small_segments_as_the_tiered_policy_asks(tmp_path: Path, corpus_dir: Path) -> None:
    from rag.ingest.records import Upload
    from rag.ingest.store import add_documents

    settings = _settings(tmp_path, corpus_dir, "adds").model_copy(update={"merge_after_add_paragraphs": 20_000})
    build_index(settings, FakeEmbedder())
    names = sorted(p.name for p in SPEECHES.glob("*.txt"))[:10]
    counts = []
    for name in names:
        report = add_documents(settings, [Upload(name, (SPEECHES / name).read_bytes())], embedder=FakeEmbedder())
        assert report.generation == current_generation(settings.index_dir)
        counts.append(len(load_index(settings, FakeEmbedder()).manifest.segments))
    # Nine small segments wait beside the first; the tenth add fills the tier and it is merged.
    assert max(counts) <= 10 and counts[-1] < counts[-2], counts
    index = load_index(settings, FakeEmbedder())
    assert len({d.slug for d in index.documents}) == 1 + len(names)


def test_the_next_start_removes_orphaned_and_half_written_segments(grown: Settings) -> None:
    from rag.cli.serve import check_for_serving

    segments = grown.index_dir / SEGMENTS
    orphan = segments / "seg-20000101T000000.000000000-0f0f0f"
    shutil.copytree(next(p for p in segments.iterdir()), orphan)  # as a kill after writing, before publishing
    (segments / ".tmp-seg-20000101T000000.000000001-0f0f0f").mkdir()
    check_for_serving(grown)  # what `rag serve` runs first (this index is of the test embedder: "embedder-changed")
    assert not orphan.exists() and not list(segments.glob(".tmp-*"))
    assert len(load_index(grown, FakeEmbedder()).manifest.segments) == 4
