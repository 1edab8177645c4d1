"""Evaluation: the gold question set run through `POST /ask`, graded, tabled and reported.

- `gold`: the question records, reading the question file, and the checks that keep the gold true to the corpus.
- `grading`: grading one answer against its gold and the metrics over many (pure functions over records).
- `client`: the code paths under test: `POST /ask` on the app served in this process, or on a running server.
- `results`: results.json (every question with what was expected, what came back, the verdict) and comparing two.
- `report`: report.html, one self-contained file.

The `rag eval` command that ties them together is `rag.cli.evaluate`; `tables` prints its terminal tables and `run` holds one run.
"""
