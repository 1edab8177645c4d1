"""The one build step pyproject.toml cannot declare: the wheel carries the first corpus as rag/data/corpus.

The repository keeps the corpus at corpus/ (the data folder of a checkout); an installed package finds the
copy inside itself (rag/paths.py). An editable install reads corpus/ in place, so nothing is copied then.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCorpus(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "rag" / "data" / "corpus"
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted((ROOT / "corpus").iterdir()):
            if source.is_file():
                self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildWithCorpus})
