"""The one HTML parser of the tests: pages are checked through their elements, never by slicing strings."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})


@dataclass(frozen=True)
class Text:
    """A run of text and the element it is directly inside."""

    tag: str
    attrs: dict[str, str | None]
    data: str


@dataclass
class Page:
    """Every start tag with its attributes, in document order, and every run of text with its element."""

    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)

    @property
    def script_bodies(self) -> list[str]:
        return [t.data for t in self.texts if t.tag == "script"]

    def script(self, element_id: str) -> str:
        """The text inside `<script id=element_id>`."""
        return "".join(t.data for t in self.texts if t.tag == "script" and t.attrs.get("id") == element_id)

    def count(self, tag: str, **attrs: str) -> int:
        return sum(1 for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items()))


class _Parser(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__()
        self.page = page
        self.open: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = (tag, dict(attrs))
        self.page.tags.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                del self.open[i:]
                return

    def handle_data(self, data: str) -> None:
        tag, attrs = self.open[-1] if self.open else ("", {})
        self.page.texts.append(Text(tag, attrs, data))


def parse_html(html: str) -> Page:
    page = Page()
    parser = _Parser(page)
    parser.feed(html)
    parser.close()
    return page
