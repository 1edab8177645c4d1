"""One PDF page's characters → its lines in reading order, columns read one after another.

Characters on one baseline are cut into fragments at gaps wider than an em; the page's columns are the
gutters of the fragments' horizontal coverage (x-ranges body text does not cover, with text on both sides
over the same heights). A gutter nothing crosses splits the page from top to bottom; fragments that cross a
gutter (a headline across the page, the running header) cut the page into bands, and inside a band each
column is read top to bottom, left column first. Columns may have columns of their own. Nothing here knows about words or sentences: it only orders what the page shows.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

Char = dict[str, Any]  # a pdfplumber character: text, x0, x1, top, bottom, size, matrix…

# Characters whose baselines differ by less than this share a line (superscripts do not, and are rare).
BASELINE_TOLERANCE = 0.3  # × font size
# A horizontal gap wider than this ends a fragment: word spaces are far narrower, column gutters wider.
FRAGMENT_GAP = 1.0  # × font size
# A gutter is at least this wide, and has at least this many fragments on each side, over at least this
# many lines of common height.
MIN_GUTTER = 0.8  # × median font size
MIN_SIDE_FRAGMENTS = 3
MAX_GUTTER_COVERAGE = 0.25  # × the coverage peaks on either side
BODY_SIZE = 0.1  # fragments within this share of the median font size are body text
MAX_DEPTH = 3


@dataclass(frozen=True)
class Fragment:
    """Characters of one line that belong together (no gap wider than an em between them)."""

    chars: tuple[Char, ...]
    x0: float
    x1: float
    top: float
    bottom: float
    baseline: float
    size: float


@dataclass(frozen=True)
class Line:
    """One line as the page shows it, with its characters in x order and its position."""

    chars: tuple[tuple[Char, ...], ...]  # the fragments' characters, left to right
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


@dataclass(frozen=True)
class PageLayout:
    """A page's lines in reading order and the most columns any band of it has."""

    lines: tuple[Line, ...]
    columns: int


def layout(chars: list[Char]) -> PageLayout:
    """Lines of one page in reading order."""
    fragments = _fragments(chars)
    if not fragments:
        return PageLayout((), 0)
    em = statistics.median(f.size for f in fragments)
    blocks, columns = _order(fragments, em, 0)
    lines = tuple(line for block in blocks for line in _lines(block, em))
    return PageLayout(lines, columns)


def _baseline(c: Char) -> float:
    """The baseline, measured from the top like `top`: `bottom` moves with each font's descent, it does not."""
    matrix = c.get("matrix")
    if matrix is None or "y0" not in c:
        return float(c["bottom"])
    # bottom + y0 is the page height in the character's own coordinates; the matrix's y is its baseline.
    return float(c["bottom"] + c["y0"] - matrix[5])


def _fragments(chars: list[Char]) -> list[Fragment]:
    rows: list[list[Char]] = []
    for c in sorted(chars, key=_baseline):
        if rows and abs(_baseline(c) - _baseline(rows[-1][-1])) <= BASELINE_TOLERANCE * max(c["size"], 1.0):
            rows[-1].append(c)
        else:
            rows.append([c])
    fragments: list[Fragment] = []
    for row in rows:
        row.sort(key=lambda c: c["x0"])
        current: list[Char] = []
        for c in row:
            if current and c["x0"] - current[-1]["x1"] > FRAGMENT_GAP * max(c["size"], current[-1]["size"]):
                fragments.append(_fragment(current))
                current = []
            current.append(c)
        if current:
            fragments.append(_fragment(current))
    return [f for f in fragments if any(c["text"].strip() for c in f.chars)]


def _fragment(chars: list[Char]) -> Fragment:
    visible = [c for c in chars if c["text"].strip()] or chars
    return Fragment(
        chars=tuple(chars),
        x0=min(c["x0"] for c in visible),
        x1=max(c["x1"] for c in visible),
        top=min(c["top"] for c in visible),
        bottom=max(c["bottom"] for c in visible),
        baseline=_baseline(visible[0]),
        size=statistics.median(c["size"] for c in visible),
    )


def _order(fragments: list[Fragment], em: float, depth: int) -> tuple[list[list[Fragment]], int]:
    """Blocks of fragments in reading order (each block read top to bottom) and the most columns seen."""
    gutters = _gutters(fragments, em) if depth < MAX_DEPTH else []
    if not gutters:
        return [fragments], 1
    blocks: list[list[Fragment]] = []
    # A gutter nothing crosses splits the region from top to bottom (a headline over two of three columns
    # does not cut the third); the others cut it into bands first.
    clean = [g for g in gutters if not any(_crosses(f, [g]) for f in fragments)]
    if clean:
        columns = 0
        for column in _split_columns(fragments, clean):
            inner, inner_columns = _order(column, em, depth + 1)
            blocks.extend(inner)
            columns += inner_columns
        return blocks, columns
    columns = len(gutters) + 1
    for spanning, band in _bands(fragments, gutters):
        if spanning:
            blocks.append(band)
            continue
        for column in _split_columns(band, gutters):
            inner, inner_columns = _order(column, em, depth + 1)
            blocks.extend(inner)
            columns = max(columns, inner_columns)
    return blocks, columns


def _gutters(fragments: list[Fragment], em: float) -> list[tuple[float, float]]:
    """x-ranges (whole points) almost no fragment covers, between text that covers its x-ranges densely.

    Only text in the body size counts (a headline, running header or footer across the page would hide the
    gutter of a short page); a gutter is where that coverage drops below a quarter of the peaks on both
    sides, and its core (where coverage is lowest) is what a fragment must cross to span the columns.
    """
    body = [f for f in fragments if abs(f.size - em) <= BODY_SIZE * em]
    if len(body) < 2 * MIN_SIDE_FRAGMENTS:
        return []
    left_edge = int(min(f.x0 for f in body))
    coverage = [0] * (int(max(f.x1 for f in body)) - left_edge + 2)
    for f in body:
        for x in range(int(f.x0) - left_edge, int(f.x1) - left_edge + 1):
            coverage[x] += 1
    gutters: list[tuple[float, float]] = []
    for start, end in _low_runs(coverage, MAX_GUTTER_COVERAGE * max(coverage)):
        peak = min(max(coverage[:start], default=0), max(coverage[end:], default=0))
        lowest = min(coverage[start:end])
        if lowest > MAX_GUTTER_COVERAGE * peak:
            continue
        core = max(_low_runs([lowest + 1, *coverage[start:end], lowest + 1], lowest), key=lambda r: r[1] - r[0])
        if core[1] - core[0] < MIN_GUTTER * em:
            continue
        # core indexes the padded run: 1 is the run's first bin
        gutter = (float(left_edge + start + core[0] - 1), float(left_edge + start + core[1] - 1))
        if _sides_overlap(fragments, gutter):
            gutters.append(gutter)
    return gutters


def _low_runs(coverage: list[int], threshold: float) -> list[tuple[int, int]]:
    """[start, end) runs of bins at or below the threshold, not touching either edge of the text."""
    runs: list[tuple[int, int]] = []
    start = -1
    for i, c in enumerate(coverage):
        if c <= threshold and start < 0:
            start = i
        elif c > threshold and start >= 0:
            if start > 0:
                runs.append((start, i))
            start = -1
    return runs


def _sides_overlap(fragments: list[Fragment], gutter: tuple[float, float]) -> bool:
    g0, g1 = gutter
    left = [f for f in fragments if f.x1 <= g0]
    right = [f for f in fragments if f.x0 >= g1]
    if len(left) < MIN_SIDE_FRAGMENTS or len(right) < MIN_SIDE_FRAGMENTS:
        return False
    top = max(min(f.top for f in left), min(f.top for f in right))
    bottom = min(max(f.bottom for f in left), max(f.bottom for f in right))
    lines_left = sum(1 for f in left if f.top >= top and f.bottom <= bottom)
    lines_right = sum(1 for f in right if f.top >= top and f.bottom <= bottom)
    return min(lines_left, lines_right) >= MIN_SIDE_FRAGMENTS


def _crosses(f: Fragment, gutters: list[tuple[float, float]]) -> bool:
    return any(f.x0 < g1 and f.x1 > g0 for g0, g1 in gutters)


def _bands(fragments: list[Fragment], gutters: list[tuple[float, float]]) -> list[tuple[bool, list[Fragment]]]:
    """Top to bottom: runs of column text, cut by fragments that cross a gutter (each its own band)."""
    bands: list[tuple[bool, list[Fragment]]] = []
    for f in sorted(fragments, key=lambda f: (f.top, f.x0)):
        spanning = _crosses(f, gutters)
        if bands and bands[-1][0] == spanning and (not spanning or abs(bands[-1][1][-1].baseline - f.baseline) < 1):
            bands[-1][1].append(f)
        else:
            bands.append((spanning, [f]))
    return bands


def _split_columns(band: list[Fragment], gutters: list[tuple[float, float]]) -> list[list[Fragment]]:
    edges = [g1 for _g0, g1 in gutters]
    columns: list[list[Fragment]] = [[] for _ in range(len(edges) + 1)]
    for f in band:
        columns[sum(1 for e in edges if f.x0 >= e)].append(f)
    return [c for c in columns if c]


def _lines(block: list[Fragment], em: float) -> list[Line]:
    """Fragments of one block grouped by baseline, top to bottom."""
    rows: list[list[Fragment]] = []
    for f in sorted(block, key=lambda f: f.baseline):
        if rows and abs(f.baseline - rows[-1][-1].baseline) <= BASELINE_TOLERANCE * max(f.size, 1.0):
            rows[-1].append(f)
        else:
            rows.append([f])
    lines = []
    for row in rows:
        row.sort(key=lambda f: f.x0)
        lines.append(
            Line(
                chars=tuple(f.chars for f in row),
                x0=row[0].x0,
                x1=max(f.x1 for f in row),
                top=min(f.top for f in row),
                bottom=max(f.bottom for f in row),
                size=statistics.median(f.size for f in row),
            )
        )
    return lines
