"""The real package on the default install: `python -m build` makes the sdist and the wheel (built from the
sdist), the wheel goes into a fresh venv without extras (not editable, no system site-packages, no test
extra), and every command runs from a folder outside the checkout, with the data folder rule of the README
(no RAG_* variable: the corpus is seeded into $XDG_DATA_HOME/speech-quotes-rag from the copy in the wheel).

One venv for the module (~1 min of pip on a warm cache); the steps share it in order, so they are one test
per concern that reads the state the earlier ones left (the index, the feedback database).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from support.servers import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("RAG_TEST_ARTIFACTS", ROOT / "test-artifacts"))
QUESTION = "中国移动目前全国客户规模有多少？"
PAGE = ROOT / "corpus" / "wenhua-keji-zuotanhui.txt"


def corpus_paragraphs() -> dict[str, str]:
    """The checkout's first corpus as paragraphs (id → text), read by this checkout's library."""
    from rag import load_corpus

    return {c.id: c.text for d in load_corpus(ROOT / "corpus") for c in d.chunks}


@dataclass
class Installed:
    """The fresh venv with the wheel installed, and where its commands run."""

    venv: Path
    wheel: Path
    work: Path  # the current directory of every command: outside the checkout
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return Path(self.env["XDG_DATA_HOME"]) / "speech-quotes-rag"

    def rag(
        self, *args: str, stdin: str | None = None, timeout: float = 300, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        done = subprocess.run(
            [str(self.venv / "bin" / "rag"), *args],
            cwd=self.work, env=self.env, input=stdin, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        name = "rag " + " ".join(a if len(a) < 40 else a[:37] + "…" for a in args)
        self.timings[name] = round(time.monotonic() - started, 2)
        self.outputs[name] = (done.stdout[-1500:] + done.stderr[-1500:]).strip()
        if ok:
            assert done.returncode == 0, f"{name}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done


def clean_env(tmp: Path) -> dict[str, str]:
    """This machine's environment without anything that points at the checkout or sets the project up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(tmp / "home"), XDG_DATA_HOME=str(tmp / "xdg"), XDG_CACHE_HOME=str(tmp / "cache"))
    (tmp / "home").mkdir()
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    tmp = tmp_path_factory.mktemp("install")
    env = clean_env(tmp)
    timings: dict[str, float] = {}

    started = time.monotonic()
    dist = tmp / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
        capture_output=True, text=True, timeout=300, env={**env, "HOME": os.environ.get("HOME", "/root")},
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    timings["python -m build (sdist, then the wheel from it)"] = round(time.monotonic() - started, 2)
    [wheel] = dist.glob("*.whl")
    assert len(list(dist.glob("*.tar.gz"))) == 1

    started = time.monotonic()
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile",
         "-c", str(ROOT / "constraints.txt"), str(wheel)],
        capture_output=True, text=True, timeout=600, env={**env, "HOME": os.environ.get("HOME", "/root")},
    )  # fmt: skip
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    timings["venv + pip install the wheel (no extras)"] = round(time.monotonic() - started, 2)

    work = tmp / "work"
    work.mkdir()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    box = Installed(venv, wheel, work, env, timings)
    yield box
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    record = {"wheel": wheel.name, "timings_s": box.timings, "outputs": box.outputs}
    (ARTIFACTS / "install.json").write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(box.timings, ensure_ascii=False, indent=1))


def test_the_wheel_is_a_default_install_outside_the_checkout(installed: Installed) -> None:
    python = str(installed.venv / "bin" / "python")
    probe = "import importlib.util, rag, app; print(rag.__file__); print(importlib.util.find_spec('httpx') is None)"
    where = subprocess.run([python, "-c", probe], cwd=installed.work, env=installed.env, capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    assert where[0].startswith(str(installed.venv)), where  # the installed copy, not the checkout
    freeze = subprocess.run([python, "-m", "pip", "freeze"], env=installed.env, capture_output=True, text=True).stdout
    for test_only in ("pytest", "playwright", "hypothesis", "schemathesis"):
        assert f"\n{test_only}==" not in f"\n{freeze}", f"{test_only} is installed on the default install"
    assert installed.rag("--version").stdout.strip() == "rag, version 0.1.0"
    with zipfile.ZipFile(installed.wheel) as wheel:
        metadata = wheel.read("speech_quotes_rag-0.1.0.dist-info/METADATA").decode()
        names = set(wheel.namelist())
    assert "License-Expression: MIT" in metadata and "Project-URL: " in metadata and "Classifier: " in metadata
    assert {"rag/data/corpus/wenhua-keji-zuotanhui.txt", "app/templates/index.html", "app/static/app.js"} <= names


def test_build_seeds_the_data_folder_with_the_shipped_corpus(installed: Installed) -> None:
    done = installed.rag("build")
    assert "copied the shipped first corpus" in done.stderr
    seeded = installed.data / "corpus" / PAGE.name
    assert seeded.read_bytes() == PAGE.read_bytes()
    assert (installed.data / "index" / "CURRENT").exists()
    assert not (installed.work / "index").exists()  # nothing written where the command ran


def test_ask_chat_speakers_documents_settings(installed: Installed) -> None:
    answer = json.loads(installed.rag("ask", QUESTION, "--json").stdout)
    paragraphs = corpus_paragraphs()
    assert answer["found"] and answer["quotes"]
    assert all(q["text"] in paragraphs[q["paragraph_id"]] for q in answer["quotes"])  # verbatim, shipped corpus
    assert answer["quotes"][0]["speaker"] == "张冬"

    chat = installed.rag("chat", stdin=f"{QUESTION}\n他还说了什么？\n")
    assert "10亿" in chat.stdout and "张冬" in chat.stdout

    speakers = json.loads(installed.rag("speakers", "--json").stdout)
    assert {s["name"] for s in speakers} >= {"张冬", "吴太兵"}
    assert "wenhua-keji-zuotanhui" in installed.rag("documents").stdout
    assert "RAG_DATA_DIR" in installed.rag("settings").stdout


def test_eval_in_process_and_its_clear_error_without_a_question_set(installed: Installed) -> None:
    missing = installed.rag("eval", "--mode", "hybrid", ok=False)
    assert missing.returncode == 1 and "pass --questions FILE" in missing.stderr and "Traceback" not in missing.stderr
    out = installed.work / "eval-in-process"
    questions = str(ROOT / "eval" / "questions.jsonl")
    installed.rag("eval", "--questions", questions, "--split", "holdout", "--mode", "hybrid", "--out", str(out))
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["info"]["target"] == "in-process (POST /ask on 127.0.0.1)"  # the app, served here, over HTTP
    assert data["summary"]["by_mode"]["hybrid"]["all"]["quote_exactness"] == 1.0


def test_serve_says_ready_when_readyz_answers_and_serves_everything(installed: Installed) -> None:
    port = free_port()
    env = {**installed.env, "RAG_MCP_HTTP": "1"}
    started = time.monotonic()
    server = subprocess.Popen(
        [str(installed.venv / "bin" / "rag"), "serve", "--port", str(port)],
        cwd=installed.work, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        assert server.stderr is not None
        for line in server.stderr:  # the "Ready" line, then /readyz at once
            lines.append(line)
            if line.startswith("Ready: "):
                assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
                break
        else:
            raise AssertionError("rag serve ended without saying it was ready:\n" + "".join(lines))
        installed.timings["rag serve: start to Ready"] = round(time.monotonic() - started, 2)
        installed.outputs["rag serve"] = "".join(lines[-4:]).strip()
        assert "Starting on" in "".join(lines)

        page = httpx.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text  # templates from the installed package
        assert httpx.get(f"{base}/static/app.js", timeout=10).status_code == 200  # static files too
        answer = httpx.post(f"{base}/ask", json={"question": QUESTION}, timeout=30).json()
        assert answer["found"]
        rated = httpx.post(
            f"{base}/feedback",
            json={"ask_id": answer["ask_id"], "rating": "down", "comment": "想看完整数字", "question": QUESTION,
                  "found": True, "quote_ids": [q["paragraph_id"] for q in answer["quotes"]]},
            timeout=10,
        )  # fmt: skip
        assert rated.status_code == 201, rated.text

        async def mcp_over_http() -> set[str]:
            with anyio.fail_after(60):
                async with Client(f"{base}/mcp") as client:
                    return {t.name for t in (await client.list_tools()).tools}

        assert anyio.run(mcp_over_http) == {"ask_quotes", "list_speakers", "get_speech", "list_documents"}

        out = installed.work / "eval-url"
        questions = str(ROOT / "eval" / "questions.jsonl")
        installed.rag("eval", "--url", base, "--questions", questions, "--split", "holdout", "--mode", "hybrid",
                      "--out", str(out))  # fmt: skip
        data = json.loads((out / "results.json").read_text(encoding="utf-8"))
        assert data["info"]["target"] == base and len(data["questions"]) > 10
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert server.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down


def test_feedback_export_and_candidates_from_it(installed: Installed) -> None:
    exported = installed.work / "down.jsonl"
    installed.rag("feedback", "export", "--rating", "down", "-o", str(exported))
    [record] = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert record["question"] == QUESTION and record["comment"] == "想看完整数字"
    labels = installed.work / "labels"
    installed.rag("eval", "--from-feedback", str(exported), "--out", str(labels))
    [candidate] = [json.loads(x) for x in (labels / "candidates.jsonl").read_text(encoding="utf-8").splitlines()]
    shown = candidate["shown"]["quotes"][0]
    assert candidate["needs_label"] and shown["text"] == corpus_paragraphs()[shown["paragraph_id"]]


def test_rag_mcp_over_stdio_from_the_wheel(installed: Installed) -> None:
    params = StdioServerParameters(command=str(installed.venv / "bin" / "rag"), args=["mcp"], env=installed.env,
                                   cwd=str(installed.work))  # fmt: skip

    async def session() -> dict[str, object]:
        with anyio.fail_after(120):
            async with Client(params) as client:
                result = await client.call_tool("ask_quotes", {"question": QUESTION, "top_k": 1})
                assert result.structured_content is not None
                return result.structured_content

    started = time.monotonic()
    answer = anyio.run(session)
    installed.timings["rag mcp (stdio): one ask_quotes"] = round(time.monotonic() - started, 2)
    quotes = answer["quotes"]
    assert isinstance(quotes, list) and quotes[0]["speaker"] == "张冬"
    assert quotes[0]["text"] in corpus_paragraphs()[quotes[0]["paragraph_id"]]
