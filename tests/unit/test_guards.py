from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.guards import (
    DEFAULT_CASE_REF_PATTERN,
    Finding,
    check_case_ref,
    find_personal_data,
    is_valid_nrn,
    redact,
)

# 1985-07-31, serial 003: 97 - (850731003 % 97) = 28
NRN = "85073100328"
# 2005-03-12, serial 123: 97 - ((2000000000 + 050312123) % 97) = 60
NRN_2000 = "05031212360"


def found(text: str) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in find_personal_data(text)]


# --- national register numbers ---------------------------------------------


@pytest.mark.parametrize(
    "digits",
    [NRN, NRN_2000, "05031212331", "85.07.31-003.28", "850731-003-28", "850731 003 28"],
)
def test_valid_nrn(digits: str) -> None:
    assert is_valid_nrn(digits)


@pytest.mark.parametrize(
    "digits",
    ["85073100361", "85073100329", "05031212361", "8507310032", "850731003280", "8507310032a", ""],
)
def test_invalid_nrn(digits: str) -> None:
    assert not is_valid_nrn(digits)


@pytest.mark.parametrize(
    "written",
    [
        NRN,
        NRN_2000,
        "85.07.31-003.28",
        "850731-003-28",
        "850731 003 28",
        "85.07.31-003-28",
        "05.03.12-123.60",
    ],
)
def test_nrn_found_in_every_usual_format(written: str) -> None:
    text = f"Betrokkene (NRN {written}), zie dossier."
    assert found(text) == [("nrn", written)]


@pytest.mark.parametrize("text", [f"NRN:{NRN}.", f"({NRN})", f"«{NRN}»", NRN, f"{NRN}\n"])
def test_nrn_found_next_to_punctuation(text: str) -> None:
    assert found(text) == [("nrn", NRN)]


@pytest.mark.parametrize(
    "text",
    [
        "85073100361",  # wrong check
        "85.07.31-003.29",
        f"x{NRN}",  # inside a word
        f"{NRN}7",  # inside a longer number
        f"1{NRN}",
        f"id-{NRN}b",
    ],
)
def test_nrn_not_found(text: str) -> None:
    assert [k for k, _ in found(text)] == []


def test_fullwidth_digits_caught_with_original_positions() -> None:
    wide = "".join(chr(ord(c) - 0x30 + 0xFF10) for c in NRN)
    text = f"nr. {wide} ok"
    assert find_personal_data(text) == [Finding("nrn", 4, 4 + len(wide))]


def test_positions_survive_expanding_characters() -> None:
    text = "\ufb01\ufb02 ﬃ: 0470 12 34 56"  # ligatures expand to several letters under NFKC
    (f,) = find_personal_data(text)
    assert (f.kind, text[f.start : f.end]) == ("phone", "0470 12 34 56")


def test_arabic_indic_digits_caught() -> None:
    text = "".join(chr(0x660 + int(c)) for c in NRN)
    assert find_personal_data(text) == [Finding("nrn", 0, 11)]


# --- e-mail addresses -------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "jan.peeters@police.belgium.be",
        "x_y+z@sub.domain.org",
        "info@cpas-ocmw.brussels",
        "a1@b2.eu",
        "jan [at] politie [dot] be",
        "jan(at)politie.be",
        "Marie.Dupont@Example.BE",
        "jérôme@exemple.fr",
    ],
)
def test_email_found(address: str) -> None:
    assert found(f"Contact: {address}, merci.") == [("email", address)]


def test_fullwidth_email_found() -> None:
    assert found("mail ａｂｃ＠ｅｘａｍｐｌｅ．ｂｅ") == [("email", "ａｂｃ＠ｅｘａｍｐｌｅ．ｂｅ")]


@pytest.mark.parametrize(
    "text", ["@room:matrix.org", "user@", "a@b", "a@b.c", "meet at home", "x @ y.be", "f(at)"]
)
def test_email_not_found(text: str) -> None:
    assert all(k != "email" for k, _ in found(text))


def test_email_with_phone_like_local_part_reported_once() -> None:
    assert found("sms 0470123456@sms.example.be") == [("email", "0470123456@sms.example.be")]


# --- phone numbers ----------------------------------------------------------

PHONES = [
    "+32 2 123 45 67",
    "0032 2 123 45 67",
    "02/123.45.67",
    "02 123 45 67",
    "021234567",
    "0470 12 34 56",
    "0470/12.34.56",
    "0470123456",
    "0470 123 456",
    "+32470123456",
    "+32 (0)2 123 45 67",
    "+32 470 12 34 56",
    "016 12 34 56",
    "050/12.34.56",
    "+33 1 23 45 67 89",
    "+1 202 555 0143",
    "+44 20 7946 0958",
    "0031-20-1234567",
]


@pytest.mark.parametrize("phone", PHONES)
def test_phone_found(phone: str) -> None:
    assert found(f"Bel {phone} voor info.") == [("phone", phone)]
    assert found(phone) == [("phone", phone)]


def test_phone_followed_by_time_still_found() -> None:
    assert found("tel 02 123 45 67 14:30") == [("phone", "02 123 45 67")]


def test_long_international_number_trimmed_to_fifteen_digits() -> None:
    assert found("+32 470 12 34 56 1 2 3 4 5") == [("phone", "+32 470 12 34 56 1 2 3 4")]


NOT_PERSONAL = [
    "2026-11-25",
    "25/11/2026",
    "05/11/2026",
    "05.11.2026",
    "05-11-2026",
    "14:30",
    "09:05",
    "25/11/2026 14:30",
    "2026-11-25T09:30",
    "TFL-BXL-2026-0042",
    "JIB/2026/117",
    "JIB/2026/0117",
    "2026",
    "1 000",
    "1 000 000",
    "1 012 345 678",
    "€ 12 034 567",
    "P7",
    "5d",
    "v1.2.3",
    "0456.123.456",  # enterprise number
    "0202.239.951",
    "ref 12345678901",
    "+1 000",
    "@jan:matrix.example.org",
    "!room:example.org",
]


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_not_personal_data(text: str) -> None:
    assert find_personal_data(text) == []
    assert find_personal_data(f"Vergadering {text}, zaal 3.") == []


def test_several_findings_sorted() -> None:
    text = f"{NRN} / a@b.be / 0470 12 34 56"
    assert [k for k, _ in found(text)] == ["nrn", "email", "phone"]


def test_pathological_input_is_fast() -> None:
    for text in ["a" * 50_000, "a@" + "b" * 50_000, "+3" + " 1" * 25_000 + "x", "0" * 50_000]:
        find_personal_data(text)


# --- case references --------------------------------------------------------


@pytest.mark.parametrize("ref", ["TFL-BXL-2026-0042", "JIB/2026/117", "case.2026-7", "A1"])
def test_case_ref_accepted(ref: str) -> None:
    assert check_case_ref(ref)
    assert check_case_ref(ref, DEFAULT_CASE_REF_PATTERN)


@pytest.mark.parametrize(
    "ref", ["", "A", "-abc", "TFL BXL", "x" * 41, "TFL-BXL-2026-0042\n", "é2026", NRN, "0470123456"]
)
def test_case_ref_refused(ref: str) -> None:
    assert not check_case_ref(ref)


def test_case_ref_custom_pattern_is_a_full_match() -> None:
    pattern = r"TFL-[A-Z]{3}-\d{4}-\d{4}|JIB/\d{4}/\d+"
    assert check_case_ref("TFL-ANT-2025-0001", pattern)
    assert check_case_ref("JIB/2026/117", pattern)
    assert not check_case_ref("TFL-ANT-2025-0001x", pattern)
    assert not check_case_ref("xJIB/2026/117", pattern)


# --- properties -------------------------------------------------------------

PROPS = settings(max_examples=200, deadline=None)
FILLER = st.text(alphabet="abcdefghij KLMNOP,;:!?()'éà", max_size=25)


def nrn_check(birth: date, serial: int) -> tuple[str, int]:
    base = f"{birth:%y%m%d}{serial:03d}"
    n = int(base) + (2_000_000_000 if birth.year >= 2000 else 0)
    return base, 97 - n % 97


def formats(digits: str) -> list[str]:
    y, m, d, s, c = digits[:2], digits[2:4], digits[4:6], digits[6:9], digits[9:]
    return [
        digits,
        f"{y}.{m}.{d}-{s}.{c}",
        f"{y}{m}{d}-{s}-{c}",
        f"{y}{m}{d} {s} {c}",
        f"{y}.{m}.{d}-{s}-{c}",
    ]


births = st.dates(date(1920, 1, 1), date(2025, 12, 31))
serials = st.integers(1, 997)


@PROPS
@given(births, serials, st.integers(0, 4), FILLER, FILLER)
def test_prop_valid_nrn_found(birth: date, serial: int, fmt: int, pre: str, post: str) -> None:
    base, check = nrn_check(birth, serial)
    written = formats(f"{base}{check:02d}")[fmt]
    text = f"{pre} {written} {post}"
    start = len(pre) + 1
    assert Finding("nrn", start, start + len(written)) in find_personal_data(text)


@PROPS
@given(births, serials, st.integers(0, 4), st.integers(1, 99), FILLER, FILLER)
def test_prop_wrong_check_not_found(
    birth: date, serial: int, fmt: int, delta: int, pre: str, post: str
) -> None:
    base, _ = nrn_check(birth, serial)
    valid = {97 - int(base) % 97, 97 - (2_000_000_000 + int(base)) % 97}
    check = next(c for c in ((c + delta) % 100 for c in range(100)) if c not in valid)
    text = f"{pre} {formats(f'{base}{check:02d}')[fmt]} {post}"
    assert all(f.kind != "nrn" for f in find_personal_data(text))


labels = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
emails = st.builds(
    lambda local, domain, tld: f"{local}@{'.'.join(domain)}.{tld}",
    st.from_regex(r"[a-zA-Z][a-zA-Z0-9._+-]{0,15}", fullmatch=True),
    st.lists(labels, min_size=1, max_size=3),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)


@PROPS
@given(emails, FILLER, FILLER)
def test_prop_email_found(address: str, pre: str, post: str) -> None:
    text = f"{pre} {address} {post}"
    start = len(pre) + 1
    assert find_personal_data(text) == [Finding("email", start, start + len(address))]


years = st.integers(1900, 2100)
days = st.dates(date(1900, 1, 1), date(2100, 12, 31))
negatives = st.one_of(
    days.map(lambda d: d.isoformat()),
    days.map(lambda d: f"{d:%d/%m/%Y}"),
    days.map(lambda d: f"{d:%d.%m.%Y}"),
    st.times().map(lambda t: f"{t:%H:%M}"),
    st.builds(lambda d, t: f"{d:%d/%m/%Y} {t:%H:%M}", days, st.times()),
    st.builds(
        lambda city, y, n: f"TFL-{city}-{y}-{n:04d}",
        st.from_regex(r"[A-Z]{3}", fullmatch=True),
        years,
        st.integers(0, 9999),
    ),
    st.builds(lambda y, n: f"JIB/{y}/{n}", years, st.integers(0, 9999)),
    years.map(str),
    st.integers(1000, 10**9).map(lambda n: f"{n:,}".replace(",", " ")),
    st.builds(lambda c, n: f"{c}{n}", st.sampled_from("PQRX"), st.integers(0, 99)),
    st.builds(lambda n, u: f"{n}{u}", st.integers(1, 90), st.sampled_from("dhwm")),
    st.builds(lambda d, h: f"{d + timedelta(days=1):%Y-%m-%d}T{h:%H:%M}", days, st.times()),
)


@PROPS
@given(st.lists(negatives, min_size=1, max_size=5), st.sampled_from([" ", ", ", " - ", "; ", "\n"]))
def test_prop_negative_families_never_found(parts: list[str], sep: str) -> None:
    text = sep.join(parts)
    assert find_personal_data(text) == [], text


def test_redact_replaces_each_piece_of_personal_data_and_counts_them():
    text = "Appeler le 0470/12.34.56 ou jan@example.be — dossier TFL-BXL-2026-0042"
    assert redact(text) == ("Appeler le […] ou […] — dossier TFL-BXL-2026-0042", 2)
    assert redact("rien à signaler", "X") == ("rien à signaler", 0)


_PIECES = ("0470/12.34.56", "+32 2 123 45 67", "jan@example.be", NRN, "85.07.31-003.28",
           "TFL-BXL-2026-0042", "2026-11-25", "14:30", "@alice:example.org", "dossier", "é")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=4), max_size=8),
       st.lists(st.sampled_from((" ", "", ".", "-", "/", "\n", ", ")), min_size=8,
                max_size=8))
def test_prop_redacted_text_holds_no_personal_data(pieces, seps):
    text = "".join(p + sep for p, sep in zip(pieces, seps, strict=False))
    cleaned, n = redact(text)
    assert find_personal_data(cleaned) == []
    assert (n == 0) == (cleaned == text)
