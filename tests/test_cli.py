"""The `rag` command, run through click's runner against the session's real index."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag import Settings
from rag.cli import main


@pytest.fixture()
def run(settings: Settings, built: Path):
    runner = CliRunner()

    def invoke(*args: str):
        base = ["--corpus-dir", str(settings.corpus_dir), "--index-dir", str(settings.index_dir)]
        return runner.invoke(main, [*base, *args], catch_exceptions=False)

    return invoke


def test_ask_json_returns_the_attributed_quote(run) -> None:
    result = run("ask", "中国移动目前全国客户规模有多少？", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["found"] is True
    first = data["quotes"][0]
    assert first["speaker"] == "张冬" and "10亿" in first["text"]
    for key in ("text", "paragraph", "speaker", "title", "organization", "paragraph_id", "start", "end", "score"):
        assert key in first
    assert first["paragraph"][first["start"] : first["end"]] == first["text"]


def test_ask_prints_quote_then_attribution(run) -> None:
    result = run("ask", "张平安如何看待马栏山？")
    assert result.exit_code == 0
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[0].startswith("“") and "马栏山" in lines[0]
    assert lines[1].strip().startswith("—— 张平安，常务董事、华为云首席执行官，华为技术有限公司")


def test_ask_options_and_not_found(run) -> None:
    result = run("ask", "人才", "--speaker", "iFLYTEK", "--top-k", "2", "--mode", "bm25", "--json")
    data = json.loads(result.stdout)
    assert {q["speaker"] for q in data["quotes"]} == {"刘庆峰"} and len(data["quotes"]) <= 2
    result = run("ask", "明天长沙的天气怎么样？")
    assert result.exit_code == 0 and "收录的讲话和报道中没有找到相关内容" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("ask", "   "), 1, "question is empty"),
        (("ask", "人才", "--speaker", "马云"), 1, "unknown speaker"),
        (("ask", "人才", "--top-k", "0"), 2, "--top-k"),
        (("ask", "人才", "--mode", "fuzzy"), 2, "--mode"),
    ],
)
def test_bad_input_gets_a_clear_error(run, args, code: int, message: str) -> None:
    result = run(*args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_speakers_and_build(run) -> None:
    result = run("speakers", "--json")
    rows = json.loads(result.stdout)
    assert len(rows) == 9
    wang = next(r for r in rows if r["name"] == "王杰")
    assert wang["organization_en"] == "BYD" and wang["paragraphs"] == 4 and wang["name_en"] == "Wang Jie"
    result = run("build")
    assert result.exit_code == 0 and "up to date" in result.stdout


def test_commands_build_the_index_when_missing(tmp_path: Path, corpus_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_dir, corpus)
    result = CliRunner().invoke(
        main, ["--corpus-dir", str(corpus), "--index-dir", str(tmp_path / "index"), "ask", "金蝶为多少企业提供服务？"]
    )
    assert result.exit_code == 0, result.output
    assert "Building the index (no index yet)" in result.stderr
    assert "700多万家" in result.stdout


def test_missing_corpus_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--corpus-dir", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "i"), "ask", "人才"]
    )
    assert result.exit_code == 1
    assert "corpus folder not found" in result.output


def test_console_script_help_shows_examples() -> None:
    out = subprocess.run([sys.executable, "-m", "rag.cli", "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "rag ask" in out.stdout and "Examples" in out.stdout
