"""A saved web article → its title, date, site and body, one paragraph a line, without the page around it.

trafilatura (Apache-2.0) finds the article and drops navigation, ads, comments and related links. It is
given the decoded page as a string and no URL, so it never downloads anything, and no script ever runs
(lxml only parses); the sandboxed child this runs in has no network either (see sandbox.py).
"""

from __future__ import annotations

import re
from typing import Any

import lxml.html
import trafilatura
from lxml import etree

from rag.errors import CorpusError
from rag.files.limits import FileLimits
from rag.files.records import DecodedFile
from rag.files.text import decode_text, normalize_text

_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
# Shorter than this (non-space characters) is no article: a noscript notice, a cookie banner, a caption.
MIN_ARTICLE_CHARS = 60
# A subtitle under the headline is short; a longer element there is already the article's text.
MAX_SUBTITLE_CHARS = 60


def read_html(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    """Extract the article of a saved page; refuse framesets, login pages and pages with no article text."""
    declared = _declared_charset(data)
    decoded = decode_text(name, data, declared)
    try:
        tree = lxml.html.document_fromstring(decoded.text.encode("utf-8"), parser=_parser())
    except (etree.ParserError, ValueError):
        raise CorpusError(name, "the page could not be parsed as HTML") from None
    _refuse_frameset(name, tree)
    document = trafilatura.bare_extraction(
        decoded.text,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        deduplicate=False,
        # Only dates the page states in its markup; the extensive search guesses from "© 2024" footers.
        date_extraction_params={"extensive_search": False, "original_date": True},
        as_dict=True,
    )
    found: dict[str, Any] = document if isinstance(document, dict) else {}
    body = str(found.get("text") or "")
    _refuse_non_article(name, tree, body)
    title = _clean(found.get("title"))
    lines = _lines(title, _subtitle(tree, title, body), body)
    text, notes = normalize_text("\n".join(lines))
    return DecodedFile(
        text=text,
        file_type="html",
        encoding=decoded.encoding,
        title=title,
        date=_clean(found.get("date")),
        source=_clean(found.get("sitename")),
        notes=(*decoded.notes, *notes, f"kept the article's {len(lines)} paragraph(s); dropped the page around it"),
    )


def _parser() -> lxml.html.HTMLParser:
    # No network, no entities from outside, comments and processing instructions dropped.
    return lxml.html.HTMLParser(encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True)


def _declared_charset(data: bytes) -> str:
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else ""


def _refuse_frameset(name: str, tree: lxml.html.HtmlElement) -> None:
    if tree.xpath("//frameset"):
        frames = tree.xpath("//frameset//frame/@src")
        where = f" ({', '.join(str(f) for f in frames[:3])})" if frames else ""
        raise CorpusError(
            name,
            f"the page is only a frameset: its text is in the frames it loads{where}, which this program does "
            "not fetch; open the frame that shows the article and save that page",
        )


def _refuse_non_article(name: str, tree: lxml.html.HtmlElement, body: str) -> None:
    chars = len(re.sub(r"\s", "", body))
    if tree.xpath("//input[translate(@type, 'PASSWORD', 'password')='password']") and chars < 4 * MIN_ARTICLE_CHARS:
        raise CorpusError(name, "the page is a login form, not an article; log in, open the article and save that page")
    if chars < MIN_ARTICLE_CHARS:
        scripts = (
            " (it may load its text with JavaScript, which this program does not run)" if tree.xpath("//script") else ""
        )
        raise CorpusError(
            name,
            f"no article text found in the page{scripts}; save the page after it has loaded, or copy the "
            "text into a .txt file",
        )


def _subtitle(tree: lxml.html.HtmlElement, title: str, body: str) -> str:
    """The line right under the headline (`——访…`), which trafilatura leaves out with the headline."""
    for heading in tree.xpath("//h1"):
        if not title or _clean(heading.text_content()) != title:
            continue
        sibling = heading.getnext()
        while sibling is not None and not _clean(sibling.text_content()):
            sibling = sibling.getnext()
        if sibling is None or sibling.tag not in ("h2", "h3", "h4", "h5", "h6", "p"):
            return ""
        text = _clean(sibling.text_content())
        if len(text) <= MAX_SUBTITLE_CHARS and text not in body:
            return text
    return ""


def _lines(title: str, subtitle: str, body: str) -> list[str]:
    lines = [line.strip() for line in body.split("\n") if line.strip()]
    head = [t for t in (title, subtitle) if t and (not lines or lines[0] != t)]
    return head + lines


def _clean(value: object) -> str:
    return re.sub(r"\s+", " ", value).strip() if isinstance(value, str) else ""
