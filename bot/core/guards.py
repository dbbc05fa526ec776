"""Guards against personal data in free text, and case-reference checks.

Messages in a coordination room must refer to a person by case reference
only.  :func:`find_personal_data` spots the identifiers that most often slip
through: Belgian national register numbers, e-mail addresses and phone
numbers.  It is a heuristic tuned to flag little else: dates, times, years,
amounts and case references are left alone.

Text is normalised per character with Unicode NFKC, and every decimal digit
of any script is read as its ASCII digit, so fullwidth or Arabic-Indic digits
are caught too.  Positions in each :class:`Finding` refer to the original text.

National register numbers (11 digits) are flagged only when the mod-97 check
passes, written plainly (``85073100361``) or as ``YY.MM.DD-XXX.CC``,
``YY.MM.DD-XXX-CC``, ``YYMMDD-XXX-CC`` or ``YYMMDD XXX CC``.

Phone numbers are flagged in two shapes only:

* international: ``+`` or ``00``, a country code, then digit groups separated
  by single spaces, dots, slashes or hyphens, optionally ``(0)`` after the
  country code; 8 to 15 digits in all (country code included);
* Belgian national: a leading ``0`` and 9 or 10 digits in the usual groupings:
  ``0Z ddd dd dd`` (e.g. ``02/123.45.67``), ``0ZZ dd dd dd`` (e.g.
  ``016 12 34 56``), the mobile ``04MM dd dd dd`` / ``04MM ddd ddd`` with MM
  from 50 to 99 (e.g. ``0470/12.34.56``), or the same digits unseparated.

A candidate is refused when it touches a letter or digit, or continues a
number through ``.``, ``/`` or ``-`` (as in ``TFL-BXL-2026-0042``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_CASE_REF_PATTERN",
    "Finding",
    "check_case_ref",
    "find_personal_data",
    "is_valid_nrn",
    "redact",
]

DEFAULT_CASE_REF_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._/-]{1,39}"

Kind = Literal["nrn", "email", "phone"]


@dataclass(frozen=True)
class Finding:
    """Personal data of ``kind`` at ``text[start:end]`` of the original text."""

    kind: Kind
    start: int
    end: int


# Not preceded / followed by a letter or digit (underscore is punctuation here).
_NOT_AFTER_ALNUM = r"(?<![^\W_])"
_NOT_BEFORE_ALNUM = r"(?![^\W_])"
# Not continuing a number through a tight separator: "2026-0042", "12.34".
_NOT_AFTER_NUMBER = r"(?<![0-9][./\-])"
_NOT_BEFORE_NUMBER = r"(?![./\-][0-9])"
_LEFT = _NOT_AFTER_ALNUM + _NOT_AFTER_NUMBER
_RIGHT = _NOT_BEFORE_ALNUM + _NOT_BEFORE_NUMBER

_NRN_RE = re.compile(
    _LEFT + r"(?P<y>[0-9]{2})(?P<d>\.?)(?P<m>[0-9]{2})(?P=d)(?P<day>[0-9]{2})"
    r"[-. ]?(?P<serial>[0-9]{3})[-. ]?(?P<check>[0-9]{2})" + _RIGHT
)

_AT = r"(?:@|\s?[\[(]\s?at\s?[\])]\s?)"
_DOT = r"(?:\.|\s?[\[(]\s?dot\s?[\])]\s?)"
_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])"
    r"[^\W_][\w.%+-]*" + _AT + r"[^\W_](?:[\w-]*[^\W_])?"
    r"(?:" + _DOT + r"[^\W_](?:[\w-]*[^\W_])?)*" + _DOT + r"[^\W\d_]{2,}"
    r"(?![\w-])",
    re.IGNORECASE,
)

_INTL_RE = re.compile(
    _LEFT + r"(?<![0-9] )"
    r"(?:\+|00)(?P<body>[1-9][0-9]*(?: ?\(0\) ?[0-9]+)?(?:[ ./\-][0-9]+)*)" + _NOT_BEFORE_ALNUM
)


def _g222(name: str) -> str:
    """Three pairs of digits with one separator used throughout: ``12 34 56``."""
    return rf"[0-9]{{2}}(?P<{name}>[ .\-]?)[0-9]{{2}}(?P={name})[0-9]{{2}}"


_BE_RE = re.compile(
    _LEFT
    + r"(?:04[5-9][0-9][ ./\-]?(?:"
    + _g222("s1")
    + r"|[0-9]{3}[ \-]?[0-9]{3})"
    + r"|0[1-9][ ./\-]?[0-9]{3}(?P<s2>[ .\-]?)[0-9]{2}(?P=s2)[0-9]{2}"
    + r"|0[1-9][0-9][ ./\-]?"
    + _g222("s3")
    + r")"
    + _RIGHT
)

_PRIORITY: dict[str, int] = {"nrn": 0, "email": 1, "phone": 2}


def _normalise(text: str) -> tuple[str, list[int]]:
    """NFKC per character; returns the text and, per output char, its source index."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isdecimal() and not ch.isascii():
            piece = str(unicodedata.decimal(ch, 0))
        elif ch.isascii():
            piece = ch
        else:
            piece = unicodedata.normalize("NFKC", ch)
        out.append(piece)
        index.extend([i] * len(piece))
    return "".join(out), index


def is_valid_nrn(digits: str) -> bool:
    """Whether ``digits`` is a national register number with a correct check.

    Accepts 11 ASCII digits, optionally with the usual ``.``, ``-`` or space
    separators.  The check is ``97 - (first nine % 97)``, or for people born
    from 2000 on ``97 - ((2000000000 + first nine) % 97)``; either may match.
    Birth dates are not checked (unknown dates and BIS numbers use odd months).
    """
    plain = re.sub(r"[.\- ]", "", digits)
    if not re.fullmatch(r"[0-9]{11}", plain):
        return False
    base, check = int(plain[:9]), int(plain[9:])
    return check in (97 - base % 97, 97 - (2_000_000_000 + base) % 97)


def _intl_span(match: re.Match[str]) -> tuple[int, int] | None:
    """Span of an international number: 8 to 15 digits, trailing groups beyond trimmed."""
    offset = match.start("body")
    total = 0
    end: int | None = None
    for group in re.finditer(r"\(0\)|[0-9]+", match.group("body")):
        if group.group() == "(0)":
            continue
        total += len(group.group())
        if total > 15:
            break
        if total >= 8:
            end = offset + group.end()
    return None if end is None else (match.start(), end)


def find_personal_data(text: str) -> list[Finding]:
    """Personal data found in ``text``, sorted by position, without overlaps.

    Where findings overlap, the one starting first wins, then the longer one,
    then a national register number over an e-mail address over a phone
    number: an e-mail address whose local part looks like a phone number is
    reported once, as an e-mail address.
    """
    norm, index = _normalise(text)
    spans: list[tuple[int, int, Kind]] = []
    for m in _NRN_RE.finditer(norm):
        if is_valid_nrn(
            m.group("y") + m.group("m") + m.group("day") + m.group("serial") + m.group("check")
        ):
            spans.append((m.start(), m.end(), "nrn"))
    spans.extend((m.start(), m.end(), "email") for m in _EMAIL_RE.finditer(norm))
    for m in _INTL_RE.finditer(norm):
        span = _intl_span(m)
        if span is not None:
            spans.append((*span, "phone"))
    spans.extend((m.start(), m.end(), "phone") for m in _BE_RE.finditer(norm))

    findings: list[Finding] = []
    reached = 0
    for start, end, kind in sorted(spans, key=lambda s: (s[0], s[0] - s[1], _PRIORITY[s[2]])):
        if start >= reached:
            findings.append(Finding(kind, index[start], index[end - 1] + 1))
            reached = end
    return findings


def redact(text: str, placeholder: str = "[…]") -> tuple[str, int]:
    """``text`` with each piece of personal data replaced by ``placeholder``, and how many
    pieces were replaced: for documents that quote what was typed in a room.

    Runs until nothing is found: a number next to another one is not flagged (it reads as
    a list of figures) until its neighbour is replaced. Every replaced piece is longer than
    a short placeholder, so this ends.
    """
    total = 0
    while findings := find_personal_data(text):
        out, last = [], 0
        for f in findings:
            out += [text[last:f.start], placeholder]
            last = f.end
        text = "".join(out) + text[last:]
        total += len(findings)
    return text, total


def check_case_ref(ref: str, pattern: str = DEFAULT_CASE_REF_PATTERN) -> bool:
    """Whether ``ref`` fully matches ``pattern`` and carries no personal data.

    A reference that is itself a national register number, an e-mail address
    or a phone number would defeat the point of using case references.
    """
    return re.fullmatch(pattern, ref) is not None and not find_personal_data(ref)
