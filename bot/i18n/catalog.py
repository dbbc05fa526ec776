"""Keep the French and Dutch catalogs in step with the English msgids in the sources.

    python -m bot.i18n.catalog update   # add new msgids (untranslated), drop obsolete ones
    python -m bot.i18n.catalog check    # list what is missing or inconsistent; exit 1 if any

English needs no catalog: the msgids are the English text. The `.po` files carry no `#:` source
locations (they would change with every edit elsewhere) and are sorted by msgid, so a diff shows
only what a translator has to look at.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n import with_plural_forms

HERE = Path(__file__).parent
SOURCES = HERE.parent
TRANSLATED = ("fr", "nl")
# `N_`/`Msg` take keyword parameters after the msgid; Babel's extractor collects keyword values
# too, so only the first (or, for `Plural`, the first two) positions are taken as the message.
KEYWORDS = {"N_": None, "_": None, "Msg": None, "Plural": (1, 2)}
NAMES = {"fr": "French", "nl": "Dutch"}
HEADER = ("# {language} translations of what coordbot says.\n"
          "# The msgids are the English text; keep {{placeholders}} and **bold** markers\n"
          "# exactly as they are.\n"
          "# Maintained with: python -m bot.i18n.catalog update|check")
METHOD_MAP = [("**/migrations/**.py", "ignore"), ("**.py", "python")]


@dataclass(frozen=True)
class Problem:
    lang: str
    msgid: str
    reason: str

    def __str__(self) -> str:
        return f"{self.lang}: {self.msgid!r}: {self.reason}"


def po_path(lang: str) -> Path:
    return HERE / f"{lang}.po"


def extract(root: Path = SOURCES) -> Catalog:
    """Every msgid used under `root`, as a template catalog without source locations."""
    template = Catalog(project="coordbot", fuzzy=False)
    for _file, _line, message, _comments, context in extract_from_dir(
            root, method_map=METHOD_MAP, keywords=KEYWORDS, comment_tags=()):
        template.add(message, None, context=context)
    return template


def load(lang: str, path: Path | None = None) -> Catalog:
    """A language's catalog, with the project's plural rule whatever Babel's data says."""
    path = path or po_path(lang)
    if not path.exists():
        return with_plural_forms(Catalog(
            locale=lang, project="coordbot", version="0.1", fuzzy=False,
            header_comment=HEADER.format(language=NAMES.get(lang, lang)),
            language_team=NAMES.get(lang, lang), last_translator="coordbot",
            copyright_holder="coordbot"), lang)
    with path.open("rb") as fh:
        return with_plural_forms(read_po(fh, locale=lang), lang)


def save(catalog: Catalog, path: Path) -> None:
    for message in catalog:
        message.locations = []
    with path.open("wb") as fh:
        write_po(fh, catalog, no_location=True, omit_header=False, sort_output=True,
                 ignore_obsolete=True, include_previous=False)


def merge(catalog: Catalog, template: Catalog) -> tuple[list[str], list[str]]:
    """Bring `catalog` in line with `template`: (added msgids, dropped msgids).

    Existing translations are kept, new msgids arrive untranslated (no fuzzy guesses: a guess
    would be shipped-looking text nobody checked), msgids no longer in the sources are dropped.
    """
    before = {_key(m) for m in catalog if m.id}
    after = {_key(m) for m in template if m.id}
    created = catalog.creation_date
    catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
    catalog.obsolete.clear()
    catalog.creation_date = created
    return sorted(after - before), sorted(before - after)


def update(langs: Iterable[str] = TRANSLATED, root: Path = SOURCES,
           directory: Path = HERE) -> dict[str, tuple[list[str], list[str]]]:
    template = extract(root)
    changes = {}
    for lang in langs:
        path = directory / f"{lang}.po"
        catalog = load(lang, path)
        added, dropped = merge(catalog, template)
        if added or dropped or not path.exists():
            catalog.revision_date = datetime.now().astimezone()
            save(catalog, path)
        changes[lang] = (added, dropped)
    return changes


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a str.format template; ValueError if its braces are malformed."""
    return {field for _lit, field, _spec, _conv in string.Formatter().parse(text)
            if field is not None}


def message_problems(lang: str, message: Message) -> Iterator[Problem]:
    """What is wrong with one catalog entry (nothing for a sound translation)."""
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    key = ids[0]
    if message.fuzzy:
        yield Problem(lang, key, "translation is marked fuzzy")
    if not all(strings):
        yield Problem(lang, key, "missing translation")
        return
    expected = set().union(*(placeholders(i) for i in ids))
    bold = {i.count("**") for i in ids}
    for text in strings:
        try:
            found = placeholders(text)
        except ValueError:
            yield Problem(lang, key, f"malformed braces in {text!r}")
            continue
        # A plural form may leave out the count ("one item"), never anything else.
        if not (expected - {"n"} <= found <= expected):
            yield Problem(lang, key, f"placeholders {sorted(found)} instead of "
                                     f"{sorted(expected)} in {text!r}")
        if text.count("**") not in bold:
            yield Problem(lang, key, f"{text.count('**')} '**' markers instead of "
                                     f"{min(bold)} in {text!r}")


def problems(langs: Iterable[str] = TRANSLATED, root: Path = SOURCES,
             directory: Path = HERE) -> list[Problem]:
    """Msgids in the sources that a catalog lacks or translates inconsistently."""
    template = extract(root)
    found: list[Problem] = []
    for lang in langs:
        catalog = load(lang, directory / f"{lang}.po")
        for wanted in sorted(template, key=_key):
            if not wanted.id:
                continue
            entry = catalog.get(wanted.id, context=wanted.context)
            if entry is None:
                found.append(Problem(lang, _key(wanted), "not in the catalog (run update)"))
            elif isinstance(wanted.id, tuple) != isinstance(entry.id, tuple):
                found.append(Problem(lang, _key(wanted), "singular/plural mismatch (run update)"))
            else:
                found.extend(message_problems(lang, entry))
    return found


def _key(message: Message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["update"]:
        for lang, (added, dropped) in update().items():
            print(f"{lang}.po: {len(added)} new, {len(dropped)} dropped")
            for msgid in added:
                print(f"  + {msgid!r}")
            for msgid in dropped:
                print(f"  - {msgid!r}")
        return 0
    if args == ["check"]:
        found = problems()
        for problem in found:
            print(problem)
        print(f"{len(found)} problem(s)" if found else "catalogs complete")
        return 1 if found else 0
    print("usage: python -m bot.i18n.catalog update|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
