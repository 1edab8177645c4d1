"""Where the data lives: the data folder, and the first corpus shipped inside the package.

The rule (README, "Where the data lives"): the corpus, the index and the feedback database default to
`corpus/`, `index/` and `feedback.sqlite3` in the data folder (`RAG_DATA_DIR`). Without that setting the data
folder is the current directory when it has a `corpus/` folder (a checkout, or a folder set up for it), else
the user's data folder (`$XDG_DATA_HOME/speech-quotes-rag`, i.e. `~/.local/share/speech-quotes-rag` on Linux).
A data folder without a corpus gets a copy of the shipped first corpus the first time a command needs one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from platformdirs import user_data_dir

APP_NAME = "speech-quotes-rag"
PACKAGE_DIR = Path(__file__).resolve().parent
# An installed wheel carries the first corpus in rag/data/corpus (setup.py copies it there); a checkout or an
# editable install reads the repository's corpus/ beside the package.
BUNDLED_CORPUS_CANDIDATES = (PACKAGE_DIR / "data" / "corpus", PACKAGE_DIR.parent / "corpus")


def bundled_corpus() -> Path | None:
    """The first corpus as shipped with this installation (None when neither place has it)."""
    return next((p for p in BUNDLED_CORPUS_CANDIDATES if p.is_dir() and any(p.iterdir())), None)


def default_data_dir(cwd: Path | None = None) -> Path:
    """The current directory when it has a corpus/ folder, else the user's data folder."""
    here = cwd or Path(".")
    if (here / "corpus").is_dir():
        return here
    return Path(user_data_dir(APP_NAME, appauthor=False))


def seed_corpus(corpus_dir: Path) -> bool:
    """Copy the shipped first corpus into `corpus_dir` when that folder does not exist; whether it copied."""
    source = bundled_corpus()
    if corpus_dir.exists() or source is None:
        return False
    corpus_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = corpus_dir.with_name(corpus_dir.name + ".seeding")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, ignore=shutil.ignore_patterns("__pycache__", "*.py", "*.pyc"))
    try:
        partial.rename(corpus_dir)  # atomic: another process seeding at once leaves one whole copy
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if not corpus_dir.exists():
            raise
    return True
