"""Settings are data: every one is documented, and the environment sets them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.settings import Settings, settings_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`RAG_{name.upper()}`" not in text]
    assert not missing, f"undocumented settings (paste `rag settings` into the README): {missing}"


def test_the_readme_settings_table_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    table = text.split("<!-- settings-table -->\n", 1)[1].split("\n<!-- /settings-table -->", 1)[0]
    assert table == settings_table(), "the README's settings table is stale: paste `rag settings` into it"


def test_every_setting_has_a_description() -> None:
    assert all(field.description for field in Settings.model_fields.values())
    assert settings_table().count("\n") == len(Settings.model_fields) + 1


def test_environment_sets_and_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "7")
    monkeypatch.setenv("RAG_MODE", "bm25")
    assert (Settings().top_k, Settings().mode) == (7, "bm25")
    monkeypatch.setenv("RAG_TOP_K", "99")
    with pytest.raises(ValidationError, match="top_k"):
        Settings()
