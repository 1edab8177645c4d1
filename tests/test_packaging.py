"""What makes it a package a person installs: the data folder rule, the shipped corpus, log lines for a terminal
or a collector, `scripts/serve` installing only when something changed, and `rag serve` on a busy port."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.logs import configure_logging
from rag.paths import bundled_corpus, default_data_dir, seed_corpus
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- the data folder


def test_the_data_folder_is_here_with_a_corpus_else_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RAG_DATA_DIR", "RAG_CORPUS_DIR", "RAG_INDEX_DIR", "RAG_FEEDBACK_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    checkout = tmp_path / "checkout"
    (checkout / "corpus").mkdir(parents=True)
    monkeypatch.chdir(checkout)
    here = Settings()
    assert (here.corpus_dir, here.index_dir, here.feedback_db) == (
        Path("corpus"), Path("index"), Path("feedback.sqlite3")
    )  # fmt: skip

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    user = tmp_path / "xdg" / "speech-quotes-rag"
    assert default_data_dir() == user
    s = Settings()
    assert (s.data_dir, s.corpus_dir, s.index_dir, s.feedback_db) == (
        user, user / "corpus", user / "index", user / "feedback.sqlite3"
    )  # fmt: skip

    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "fast-disk"))
    s = Settings()
    assert s.corpus_dir == tmp_path / "data" / "corpus"
    assert s.index_dir == tmp_path / "fast-disk"  # a path set explicitly is kept as set


def test_seed_copies_the_shipped_corpus_once(tmp_path: Path) -> None:
    shipped = bundled_corpus()
    assert shipped is not None and (shipped / "wenhua-keji-zuotanhui.txt").is_file()
    target = tmp_path / "data" / "corpus"
    assert seed_corpus(target) is True
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in shipped.iterdir() if p.is_file())
    (target / "added.txt").write_text("mine", encoding="utf-8")
    assert seed_corpus(target) is False  # an existing corpus is never touched
    assert (target / "added.txt").read_text(encoding="utf-8") == "mine"


# ---------------------------------------------------------------- log lines


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture()
def root_logging() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def log_answer(text: str = "answered (found=True, 2 quote(s))") -> None:
    logging.getLogger("app.ask").info(text, extra={"question": "张冬说了什么？", "ask_id": "a1"})


def test_a_terminal_gets_text_lines_without_the_question(root_logging: logging.Logger) -> None:
    screen = Terminal()
    configure_logging(stream=screen, force=True)
    log_answer("answered\nforged line")
    [line] = screen.getvalue().splitlines()  # one record, one line
    assert "INFO" in line and "app.ask" in line and "answered\\u000aforged line" in line
    assert "张冬说了什么" not in line and not line.startswith("{")


def test_a_terminal_shows_questions_only_when_asked(root_logging: logging.Logger) -> None:
    screen = Terminal()
    configure_logging(stream=screen, force=True, questions_on_terminal=True)
    log_answer()
    assert "张冬说了什么？" in screen.getvalue()


def test_json_lines_off_a_terminal_or_when_configured(root_logging: logging.Logger) -> None:
    collector = io.StringIO()
    configure_logging(stream=collector, force=True)
    log_answer()
    record = json.loads(collector.getvalue())
    assert (
        record["question"] == "张冬说了什么？" and record["ask_id"] == "a1"
    )  # a collector keeps it (RAG_LOG_QUESTIONS)

    screen = Terminal()
    configure_logging(stream=screen, force=True, log_format="json")
    log_answer()
    record = json.loads(screen.getvalue())
    assert record["ask_id"] == "a1" and "question" not in record  # JSON on a terminal: still no question

    piped = io.StringIO()
    configure_logging(stream=piped, force=True, log_format="text")
    log_answer()
    assert piped.getvalue().split()[1] == "INFO" and not piped.getvalue().startswith("{")  # text when configured


def test_the_log_format_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_LOG_FORMAT", "xml")
    result = CliRunner().invoke(main, ["settings"])
    assert result.exit_code == 2 and "log_format" in result.output


# ---------------------------------------------------------------- scripts/serve


def fake_checkout(tmp_path: Path) -> tuple[Path, Path]:
    """scripts/serve in a folder whose .venv has a `pip` and a `rag` that only write down that they ran."""
    tree = tmp_path / "tree"
    (tree / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "serve", tree / "scripts" / "serve")
    for name in ("pyproject.toml", "constraints.txt", "setup.py"):
        shutil.copy2(ROOT / name, tree / name)
    bin_dir = tree / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    calls = tmp_path / "calls.txt"
    (bin_dir / "activate").write_text(f'export PATH="{bin_dir}:$PATH"\n', encoding="utf-8")
    for tool in ("pip", "rag"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\n', encoding="utf-8")
        script.chmod(0o755)
    return tree, calls


def test_scripts_serve_installs_only_when_something_changed(tmp_path: Path) -> None:
    tree, calls = fake_checkout(tmp_path)

    def serve() -> list[str]:
        subprocess.run(["bash", str(tree / "scripts" / "serve"), "--port", "8123"], check=True, timeout=30)
        return calls.read_text(encoding="utf-8").splitlines()

    assert serve() == ["pip install -q -c constraints.txt -e .", "rag serve --port 8123"]
    assert serve()[2:] == ["rag serve --port 8123"]  # nothing changed: no pip at all
    with (tree / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write("\n# a new dependency\n")
    assert serve()[3:] == ["pip install -q -c constraints.txt -e .", "rag serve --port 8123"]


# ---------------------------------------------------------------- rag serve


def test_rag_serve_refuses_a_busy_port_at_once(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "RAG_DATA_DIR": str(tmp_path)}  # no corpus, no index: refused before either matters
        done = subprocess.run(
            [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in done.stderr and "Traceback" not in done.stderr
