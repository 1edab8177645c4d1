"""Ingestion never starves answers (issue 18, problem 2): a paragraph has a maximum length, and questions asked
while a document is being added wait for one slice of the model, not for the add's embedding."""

from __future__ import annotations

import random
import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from support.servers import save_figures
from support.stores import copy_store

from app.main import create_app
from app.serving import serving_in_thread
from rag import Settings, load_index
from rag.cli import main as rag_cli
from rag.embedding import get_embedder
from rag.errors import CorpusError
from rag.ingest import Upload, prepare
from rag.service import Service

TOKEN = "t0ken-for-load"
WORDS = [
    "博物馆",
    "大学生",
    "课堂",
    "研究",
    "展厅",
    "文物",
    "标本",
    "同学",
    "老师",
    "历史",
    "考古",
    "艺术",
    "生物",
    "专业",
    "课程",
    "社会",
    "开放",
    "团队",
    "讲解",
    "建筑",
]
HEAD = "许明远：让博物馆成为大学生的第二课堂\n\n湘楚大学副校长许明远出席并致辞。以下为致辞全文：\n\n各位来宾，老师们、同学们：\n\n"


def sentence(rng: random.Random) -> str:
    return "我们" + "".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))) + "。"


def speech(paragraphs: int, chars: int, seed: int = 0) -> bytes:
    """A single speech of `paragraphs` distinct paragraphs of about `chars` characters each."""
    rng = random.Random(seed)
    body = []
    for _ in range(paragraphs):
        para = ""
        while len(para) < chars:
            para += sentence(rng)
        body.append(para)
    return (HEAD + "\n\n".join(body) + "\n\n谢谢大家！\n").encode()


def test_a_paragraph_over_the_limit_is_refused_with_its_line(settings: Settings) -> None:
    data = speech(1, 1500) + speech(1, 20_000, seed=1)[len(HEAD.encode()) :]
    started = time.perf_counter()
    with pytest.raises(CorpusError) as refused:
        prepare(settings, [Upload("long-lines.txt", data)])
    assert time.perf_counter() - started < 30
    message = str(refused.value)
    assert f"the limit is {settings.max_paragraph_chars}" in message and "RAG_MAX_PARAGRAPH_CHARS" in message
    line = next(n for n, text in enumerate(data.decode().splitlines(), 1) if len(text) > 10_000)
    assert message.startswith(f"long-lines.txt:{line}:"), message  # the long paragraph's line


def test_rag_add_says_why_a_long_paragraph_is_refused(settings: Settings, built: Path, tmp_path: Path) -> None:
    local = copy_store(settings, tmp_path)
    path = tmp_path / "one-line.txt"
    path.write_bytes(speech(1, 6000))
    env = {"RAG_CORPUS_DIR": str(local.corpus_dir), "RAG_INDEX_DIR": str(local.index_dir)}
    result = CliRunner().invoke(rag_cli, ["add", str(path)], env=env)
    assert result.exit_code != 0 and "RAG_MAX_PARAGRAPH_CHARS" in result.output, result.output
    assert "Traceback" not in result.output


def test_passages_are_embedded_in_bounded_slices() -> None:
    from rag.embedding import passage_slices

    assert [list(r) for r in passage_slices([600, 600, 600, 3000, 10, 10], 2048)] == [[0, 1, 2], [3], [4, 5]]
    embedder = get_embedder(Settings())
    texts = [sentence(random.Random(i)) * 8 for i in range(12)]
    one_by_one = [embedder.embed_batch([t], "passage")[0] for t in texts]
    together = embedder.embed_batch(texts, "passage")
    assert max(float(abs(a - b).max()) for a, b in zip(one_by_one, together, strict=True)) < 1e-5


QUESTIONS = ["中国移动目前全国客户规模有多少？", "张平安如何看待马栏山？", "Who talked about talent?"]


@pytest.mark.slow
def test_questions_keep_their_latency_during_an_add(settings: Settings, built: Path, tmp_path: Path) -> None:
    """A document of 12 paragraphs of 1 500 characters is added over HTTP while a client keeps asking: each
    question waits for at most a slice of the model (~1 000 tokens), not for a batch of 32 paragraphs."""
    local = copy_store(settings, tmp_path).model_copy(update={"admin_token": TOKEN, "cache_size": 0})
    service = Service(local, index=load_index(local))
    document = speech(12, 1500, seed=7)
    with serving_in_thread(create_app(local, service=service)) as url, httpx.Client(base_url=url, timeout=600) as c:
        baseline = []
        for q in QUESTIONS * 2:
            started = time.perf_counter()
            assert c.post("/ask", json={"question": q}).status_code == 200
            baseline.append(time.perf_counter() - started)
        outcome: dict[str, object] = {}

        def upload() -> None:
            with httpx.Client(base_url=url, timeout=600) as admin:
                started = time.perf_counter()
                r = admin.post(
                    "/documents",
                    files={"file": ("long-speech.txt", document)},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                outcome.update(status=r.status_code, seconds=time.perf_counter() - started, body=r.text[:300])

        adding = threading.Thread(target=upload, daemon=True)
        adding.start()
        during = []
        slowest: list[tuple[float, dict[str, float]]] = []
        while adding.is_alive():
            started = time.perf_counter()
            r = c.post("/ask", json={"question": QUESTIONS[len(during) % len(QUESTIONS)]})
            during.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
            slowest = sorted([*slowest, (during[-1], r.json()["timings_ms"])], key=lambda x: -x[0])[:3]
            time.sleep(0.2)
        adding.join(600)
    figures = {
        "document_chars": len(document.decode()),
        "add_status": outcome.get("status"),
        "add_seconds": round(float(outcome.get("seconds", 0)), 2),  # type: ignore[arg-type]
        "baseline_p50_s": round(statistics.median(baseline), 3),
        "during_requests": len(during),
        "during_p50_s": round(statistics.median(during), 3) if during else None,
        "during_max_s": round(max(during), 3) if during else None,
        "slowest": [(round(t, 3), timings) for t, timings in slowest],
    }
    save_figures("ask-during-add", figures)
    assert outcome.get("status") == 201, outcome
    assert len(during) >= 3, figures
    # A question waits for one slice (two of the model's windows: ~0.2 s on two idle cores, ~3 s at load 8), not
    # for a batch of 32 paragraphs (~30 s at load 8).
    assert max(during) < 6.0, figures


def test_an_add_past_its_time_limit_is_undone_and_says_why(settings: Settings, built: Path, tmp_path: Path) -> None:
    from rag.errors import IngestError
    from rag.ingest import add_documents

    local = copy_store(settings, tmp_path).model_copy(update={"add_seconds": 0.001})
    before = sorted(p.name for p in local.corpus_dir.iterdir())
    with pytest.raises(IngestError) as refused:
        add_documents(local, [Upload("slow-speech.txt", speech(3, 400, seed=3))])
    assert "RAG_ADD_SECONDS" in str(refused.value) and "undone" in str(refused.value)
    assert sorted(p.name for p in local.corpus_dir.iterdir()) == before


@pytest.mark.parametrize("name", [".hidden.md", ".txt", "folder/.env.txt"])
def test_a_file_name_starting_with_a_dot_is_refused_with_the_reason(settings: Settings, name: str) -> None:
    with pytest.raises(CorpusError) as refused:
        prepare(settings, [Upload(name, speech(2, 100))])
    assert "starts with a dot" in str(refused.value)


def test_the_admin_endpoint_refuses_a_dot_file_name_with_a_4xx(settings: Settings, built: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    local = copy_store(settings, tmp_path).model_copy(update={"admin_token": TOKEN})
    with TestClient(create_app(local)) as client:
        r = client.post(
            "/documents", files={"file": (".hidden.md", speech(2, 100))}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert r.status_code == 422 and "starts with a dot" in r.json()["detail"], r.text


def test_two_file_parts_are_refused_not_one_silently_kept(settings: Settings, built: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    local = copy_store(settings, tmp_path).model_copy(update={"admin_token": TOKEN})
    files = [("file", ("one.txt", speech(2, 100))), ("file", ("two.txt", speech(2, 100, seed=5)))]
    with TestClient(create_app(local)) as client:
        r = client.post("/documents", files=files, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422 and "one `file` part" in r.json()["detail"], r.text
    assert not list(local.corpus_dir.glob("one*")) and not list(local.corpus_dir.glob("two*"))
