"""Plain-text bytes → text: UTF-8 (with or without BOM), UTF-16, GB18030/GBK and Big5, and nothing garbled."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from rag.errors import CorpusError
from rag.files.cjk import artefact_notes, plausibility, replace_artefacts

# A decoding whose non-ASCII characters score below this is mojibake (real text scores ~1.0, Big5 read as
# GB18030 about 0.2; measured on the fixtures and on every encoding pair in tests/test_files.py).
PLAUSIBLE = 0.85
# A line with at least this many non-ASCII characters is judged on its own when looking for pasted-in text.
LINE_EVIDENCE = 6
TRIED = "UTF-8, UTF-16, GB18030/GBK and Big5"

Family = str  # "utf-8" | "utf-16" | "gb18030" | "big5"

# charset-normalizer's codec names → the family this program decodes them as. GBK and GB2312 are subsets of
# GB18030, so all three are decoded as GB18030; Windows' cp950 is Big5 with a few more characters.
_FAMILIES: dict[str, Family] = {
    "gb18030": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "cp936": "gb18030",
    "hz": "gb18030",
    "big5": "big5",
    "big5hkscs": "big5",
    "cp950": "big5",
    "utf_16_le": "utf-16",
    "utf_16_be": "utf-16",
    "utf_16": "utf-16",
    "utf_8": "utf-8",
    "ascii": "utf-8",
}
_NAMES = {"gb18030": "GB18030", "big5": "Big5", "utf-16": "UTF-16", "utf-8": "UTF-8"}
_LINE_BREAKS = re.compile(r"\r\n|[\r\f\v\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]")
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f]")
# The ASCII line feed never occurs inside a GB18030 or Big5 character, so lines can be judged one by one.
_BYTE_LINES = re.compile(rb"[^\n]*\n?")


@dataclass(frozen=True)
class DecodedText:
    """Bytes decoded as one encoding, normalised, with what was done."""

    text: str
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "gb18030", "big5"
    notes: tuple[str, ...] = ()


def decode_text(name: str, data: bytes, declared: str = "") -> DecodedText:
    """Decode a text file's bytes, refusing binary, mixed, garbled or undetectable text with the reason."""
    if not data.strip():
        raise CorpusError(name, "the file is empty")
    # A valid UTF-8 file is UTF-8, whatever a page declares (legacy bytes are almost never valid UTF-8).
    decoded = (
        _decode_bom(name, data)
        or _decode_utf8(data)
        or _decode_declared(data, declared)
        or _decode_detected(name, data)
    )
    if declared and _FAMILIES.get(_codec_name(declared)) != decoded.encoding.removesuffix("-sig"):
        decoded = DecodedText(decoded.text, decoded.encoding, (*decoded.notes, f"the page declares {declared}"))
    text, notes = normalize_text(decoded.text)
    if not text.strip():
        raise CorpusError(name, "the file has no text")
    return DecodedText(text, decoded.encoding, decoded.notes + notes)


def normalize_text(text: str) -> tuple[str, tuple[str, ...]]:
    """`\\n` line ends (CRLF, CR, form feed, Unicode separators), no control characters, no radical artefacts."""
    text = _LINE_BREAKS.sub("\n", text)
    dropped = len(_CONTROLS.findall(text))
    text = _CONTROLS.sub("", text)
    text, counts = replace_artefacts(text)
    notes = artefact_notes(counts)
    if dropped:
        notes = (f"dropped {dropped} control character(s)", *notes)
    return text, notes


def _decode_bom(name: str, data: bytes) -> DecodedText | None:
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise CorpusError(name, "the file is UTF-32 text, which this program does not read; save it as UTF-8")
    if data.startswith(codecs.BOM_UTF8):
        text = _strict(name, data, "utf-8-sig", "it starts with a UTF-8 byte-order mark")
        return DecodedText(text, "utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _strict(name, data, "utf-16", "it starts with a UTF-16 byte-order mark")
        order = "little" if data.startswith(codecs.BOM_UTF16_LE) else "big"
        return DecodedText(text, "utf-16", (f"read as UTF-16 ({order}-endian, with a byte-order mark)",))
    return None


def _strict(name: str, data: bytes, codec: str, why: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(name, f"{why} but is not valid {codec.upper()} at byte {exc.start}", line) from None


def _decode_utf8(data: bytes) -> DecodedText | None:
    text = _try(data, "utf-8") if b"\x00" not in data else None
    return DecodedText(text, "utf-8") if text is not None else None


def _decode_declared(data: bytes, declared: str) -> DecodedText | None:
    """The encoding an HTML page declares, when it really is that (pages often declare one and are another)."""
    family = _FAMILIES.get(_codec_name(declared))
    if family is None or family in ("utf-16", "utf-8"):
        return None
    text = _try(data, _codecs(family, "")[0])
    if text is None or plausibility(text)[0] < PLAUSIBLE:
        return None
    return _result(family, text, f"read as {_NAMES[family]}")


def _decode_detected(name: str, data: bytes) -> DecodedText:
    if b"\x00" in data:
        return _decode_nul_bearing(name, data)
    _refuse_utf8_mixed(name, data)
    return _decode_legacy(name, data)


def _decode_nul_bearing(name: str, data: bytes) -> DecodedText:
    """NUL bytes: BOM-less UTF-16 when exactly one byte order reads as plausible text, else binary."""
    readings = []
    if len(data) % 2 == 0:
        for order, codec in (("little", "utf-16-le"), ("big", "utf-16-be")):
            text = _try(data, codec)
            if text is not None and not _BINARY_CONTROLS.search(text):
                readings.append((plausibility(text)[0], order, text))
    plausible = [r for r in readings if r[0] >= PLAUSIBLE]
    if len(plausible) == 1:
        _score, order, text = plausible[0]
        return DecodedText(text, "utf-16", (f"read as UTF-16 ({order}-endian, no byte-order mark)",))
    offset = data.index(b"\x00")
    line = data[:offset].count(b"\n") + 1
    raise CorpusError(
        name,
        f"the file looks binary (a NUL byte at byte {offset}, and it is not UTF-16 text), not a text document",
        line,
    )


def _refuse_utf8_mixed(name: str, data: bytes) -> None:
    """Refuse a UTF-8 file with lines in another encoding pasted in (each half is real text on its own)."""
    utf8_line = bad_line = 0
    bad_bytes = b""
    for number, raw in enumerate(_BYTE_LINES.findall(data), start=1):
        if raw.isascii():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad_line, bad_bytes = bad_line or number, bad_bytes or raw
            continue
        score, seen = plausibility(text)
        if not utf8_line and seen >= 2 and score >= PLAUSIBLE:
            utf8_line = number
    if utf8_line and bad_line:
        guess = _guess_family(bad_bytes)
        other = f" (it reads as {_NAMES[guess]})" if guess else ""
        raise CorpusError(
            name,
            f"the file mixes encodings: line {utf8_line} is UTF-8 but line {bad_line} is not{other}; "
            "save the whole file in one encoding (UTF-8)",
            bad_line,
        )


def _decode_legacy(name: str, data: bytes) -> DecodedText:
    """GB18030/GBK or Big5 (or BOM-less UTF-16): charset-normalizer's guess first, checked for plausibility."""
    best = from_bytes(data).best()
    guessed = best.encoding if best is not None else ""
    order = [f for f in (_FAMILIES.get(guessed), "gb18030", "big5") if f]
    candidates: list[tuple[float, Family, str]] = []
    for family in dict.fromkeys(order):
        for codec in _codecs(family, guessed):
            text = _try(data, codec)
            if text is not None:
                candidates.append((plausibility(text)[0], family, text))
                break
    candidates.sort(key=lambda c: c[0], reverse=True)
    if candidates and candidates[0][0] >= PLAUSIBLE:
        _score, family, text = candidates[0]
        _refuse_legacy_mixed(name, data, family)
        return _result(family, text, f"read as {_NAMES[family]}")
    _refuse_mixed_lines(name, data)
    looks = f"; it looks like {guessed} text" if guessed and guessed not in _FAMILIES else ""
    garbled = ", which give garbled characters" if candidates else ""
    raise CorpusError(
        name, f"the file's encoding could not be recognised (tried {TRIED}{garbled}{looks}); save it as UTF-8"
    )


def _refuse_legacy_mixed(name: str, data: bytes, family: Family) -> None:
    """A GB18030 or Big5 file with a paragraph in the other encoding: that line alone reads as mojibake."""
    codec = _codecs(family, "")[0]
    for number, raw in enumerate(_BYTE_LINES.findall(data), start=1):
        if raw.isascii():
            continue
        score, seen = plausibility(raw.decode(codec, errors="replace"))
        if seen >= LINE_EVIDENCE and score < PLAUSIBLE:
            guess = _guess_family(raw, exclude=family)
            other = f" (it reads as {_NAMES[guess]})" if guess else ""
            raise CorpusError(
                name,
                f"the file mixes encodings: it reads as {_NAMES[family]} but line {number} does not{other}; "
                "save the whole file in one encoding (UTF-8)",
                number,
            )


def _refuse_mixed_lines(name: str, data: bytes) -> None:
    """No encoding reads the whole file, but its lines read well in two different ones: pasted together."""
    first: tuple[int, Family] | None = None
    for number, raw in enumerate(_BYTE_LINES.findall(data), start=1):
        if raw.isascii() or plausibility(raw.decode("latin-1"))[1] < LINE_EVIDENCE:
            continue
        family = _guess_family(raw)
        if not family:
            continue
        if first is None:
            first = (number, family)
        elif family != first[1]:
            raise CorpusError(
                name,
                f"the file mixes encodings: line {first[0]} reads as {_NAMES[first[1]]} but line {number} as "
                f"{_NAMES[family]}; save the whole file in one encoding (UTF-8)",
                number,
            )


def _guess_family(raw: bytes, exclude: Family = "") -> Family:
    for family in ("utf-8", "gb18030", "big5"):
        if family == exclude:
            continue
        text = _try(raw, _codecs(family, "")[0])
        if text is not None and plausibility(text)[0] >= PLAUSIBLE:
            return family
    return ""


def _codecs(family: Family, guessed: str) -> tuple[str, ...]:
    if family == "big5":
        return ("cp950", "big5hkscs")
    if family == "utf-16":
        return (guessed,) if guessed in ("utf_16_le", "utf_16_be") else ("utf_16_le", "utf_16_be")
    return (family,)


def _codec_name(label: str) -> str:
    """`GB2312`, `x-gbk`, `utf8`, `Big5-HKSCS` → the codec names charset-normalizer uses."""
    label = label.strip().lower().replace("-", "_").removeprefix("x_")
    return {"utf8": "utf_8", "big5_hkscs": "big5hkscs", "windows_936": "cp936"}.get(label, label)


def _try(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _result(family: Family, text: str, note: str) -> DecodedText:
    return DecodedText(text.removeprefix("\ufeff"), family, (note,))
