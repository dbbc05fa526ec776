"""Every message the bot can say exists in French and Dutch, renders, and keeps its markup."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import LANGS, Msg, Plural, When, render, translate
from bot.i18n import _ as N_
from bot.i18n import catalog as cat
from bot.reply import Reply, render_reply

BRUSSELS = ZoneInfo("Europe/Brussels")
MARKERS = {"N_", "_", "Msg", "Plural"}
TEMPLATE = cat.extract()
MESSAGES = sorted((m for m in TEMPLATE if m.id), key=lambda m: str(m.id))


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- extraction -------------------------------------------------------------------------------

def test_extraction_takes_the_msgid_not_the_keyword_params(tmp_path):
    _write(tmp_path, "pkg/mod.py", '''
from bot.i18n import _ as N_, Msg, Plural
a = N_("Meeting {id} created.", id="M3")
b = N_("{user} is now {role}.", user="@alice:example.org", role=N_("chair"))
c = Msg("Only {x}", x="literal", y="another literal")
d = Plural("{n} item", "{n} items", 3, kind="agenda")
e = Plural("{n} day", "{n} days", n=4, unit="d")
f = N_("Two "
       "parts {p}.", p="q")
g = N_(variable, name="not a msgid")
''')
    _write(tmp_path, "pkg/migrations/versions/0001_x.py", 'N_("ignored")\n')
    found = {m.id for m in cat.extract(tmp_path) if m.id}
    assert found == {"Meeting {id} created.", "{user} is now {role}.", "chair", "Only {x}",
                     ("{n} item", "{n} items"), ("{n} day", "{n} days"), "Two parts {p}."}


def _ast_msgids(root: Path) -> tuple[set, list[str]]:
    """The msgids an independent reading of the sources finds, and calls that hide them."""
    ids, bad = set(), []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in MARKERS and node.args):
                continue
            want = 2 if node.func.id == "Plural" else 1
            args = node.args[:want]
            if all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
                values = tuple(a.value for a in args)
                ids.add(values if want == 2 else values[0])
            elif any(isinstance(a, ast.JoinedStr) for a in args):
                bad.append(f"{path.relative_to(root)}:{node.lineno}: f-string msgid")
    return ids, bad


def test_babel_extraction_agrees_with_the_source_tree():
    ids, bad = _ast_msgids(cat.SOURCES)
    assert not bad, "msgids must be literal strings, params go in {placeholders}:\n" + \
        "\n".join(bad)
    assert {m.id for m in MESSAGES} == ids


# --- the shipped catalogs ---------------------------------------------------------------------

@pytest.mark.parametrize("lang", cat.TRANSLATED)
def test_every_msgid_is_translated_with_the_same_placeholders(lang):
    problems = cat.problems([lang])
    assert not problems, (f"{len(problems)} problem(s) in {lang}.po; run "
                          "`python -m bot.i18n.catalog update` and translate:\n"
                          + "\n".join(map(str, problems)))


@pytest.mark.parametrize("lang", cat.TRANSLATED)
def test_catalog_files_are_sorted_without_locations(lang):
    text = cat.po_path(lang).read_text(encoding="utf-8")
    assert "\n#:" not in text
    ids = [m.id for m in cat.load(lang) if m.id]
    keys = [i[0] if isinstance(i, tuple) else i for i in ids]
    assert keys == sorted(keys)


def _dummy(msg_id) -> dict:
    ids = msg_id if isinstance(msg_id, tuple) else (msg_id,)
    names = set().union(*(cat.placeholders(i) for i in ids))
    return {name: f"<{name.upper()}>" for name in sorted(names - {"n"})}


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_renders_in_every_language(lang):
    for message in MESSAGES:
        params = _dummy(message.id)
        if isinstance(message.id, tuple):
            msgs = [Plural(*message.id, n, **params) for n in (0, 1, 2, 7)]
        else:
            msgs = [Msg(message.id, **params)]
        for msg in msgs:
            # Formatting the translated template itself: a KeyError here means a translation
            # names a placeholder the code never passes.
            plain = translate(msg, lang).replace("**", "").format(**msg.params)
            assert render(msg, lang, as_html=False) == plain, (lang, message.id)
            rich = render(msg, lang, as_html=True)
            assert "**" not in rich, (lang, message.id)
            for value in params.values():
                assert value in plain, (lang, message.id, value)


# --- rendering per room -----------------------------------------------------------------------

def test_a_bilingual_room_gets_both_languages_in_one_message():
    reply = Reply([N_("Time zone set to {value}.", value="Europe/Brussels")])
    plain, rich = render_reply(reply, "fr+nl")
    assert plain == ("Fuseau horaire défini : Europe/Brussels.\n\n———\n\n"
                     "Tijdzone ingesteld op Europe/Brussels.")
    assert rich == ("<p>Fuseau horaire défini : Europe/Brussels.</p><hr/>"
                    "<p>Tijdzone ingesteld op Europe/Brussels.</p>")


def test_a_bilingual_room_as_its_members_see_it(chat):
    chat.setup("platform", "Plateforme bruxelloise")
    chat.send("@chair:example.org", "!room set language fr+nl")
    text = chat.send("@alice:example.org", "!room info")
    french, dutch = text.split("\n\n———\n\n")
    assert "plateforme régionale" in french and "Fuseau horaire : Europe/Brussels" in french
    assert "regionaal platform" in dutch and "Tijdzone: Europe/Brussels" in dutch


def test_dates_come_out_in_the_readers_language():
    # 13:30 UTC on a Thursday in December is 14:30 in Brussels (CET).
    start = datetime(2026, 12, 3, 13, 30, tzinfo=UTC).astimezone(BRUSSELS)
    when = When(start, "weekday-datetime")
    assert render(when, "fr", as_html=False) == "jeudi 3 décembre 2026, 14:30"
    assert render(when, "nl", as_html=False) == "donderdag 3 december 2026, 14:30"
    assert render(when, "en", as_html=False) == "Thursday 3 December 2026, 14:30"
    assert render(When(start, "date"), "fr", as_html=False) == "jeu. 3 déc. 2026"
    assert render(When(start, "date"), "nl", as_html=False) == "do 3 dec 2026"
    # Summer time: 12:00 UTC in July is 14:00 in Brussels (CEST).
    summer = datetime(2026, 7, 15, 12, 0, tzinfo=UTC).astimezone(BRUSSELS)
    assert render(When(summer), "nl", as_html=False) == "wo 15 jul 2026, 14:00"
    assert render(When(summer), "fr", as_html=False) == "mer. 15 juil. 2026, 14:00"


def test_a_date_inside_a_message_follows_the_language():
    start = datetime(2026, 3, 2, 9, 0, tzinfo=BRUSSELS)
    reply = Reply([N_("Reminders before each meeting: {value}",
                      value=When(start, "weekday-datetime"))])
    plain, _ = render_reply(reply, "fr+nl")
    assert "Rappels avant chaque réunion : lundi 2 mars 2026, 09:00" in plain
    assert "Herinneringen voor elke vergadering: maandag 2 maart 2026, 09:00" in plain


@pytest.mark.parametrize("language", ["en", "fr", "nl", "fr+nl"])
def test_room_pings_are_neutralised(language):
    reply = Reply([N_("{user} represents **{service}** in this room.",
                      user="@alice:example.org", service="@room @ROOM")])
    for body in render_reply(reply, language):
        assert "@room" not in body.lower()
        assert "@\u2060room" in body and "@\u2060ROOM" in body


def test_a_service_named_at_room_does_not_ping_the_room(chat):
    chat.setup()
    text = chat.send("@coord:example.org", "!service @alice:example.org @room")
    assert text and "@room" not in text and "@\u2060room" in text
    body = chat.send("@alice:example.org", "!services")
    assert "@room" not in body


# --- the catalog tool -------------------------------------------------------------------------

def test_update_keeps_translations_adds_new_and_drops_obsolete(tmp_path):
    src, out = tmp_path / "src", tmp_path / "po"
    out.mkdir()
    _write(src, "a.py", 'N_("Kept {x}.", x=1)\nN_("Gone.")\n')
    cat.update(["fr"], root=src, directory=out)
    po = cat.load("fr", out / "fr.po")
    po["Kept {x}."].string = "Gardé {x}."
    cat.save(po, out / "fr.po")

    _write(src, "a.py", 'N_("Kept {x}.", x=1)\nPlural("{n} new", "{n} new ones", 2)\n')
    changes = cat.update(["fr"], root=src, directory=out)
    assert changes == {"fr": ([("{n} new")], ["Gone."])}
    po = cat.load("fr", out / "fr.po")
    assert po["Kept {x}."].string == "Gardé {x}."
    assert po["{n} new"].string == ("", "")
    assert po.get("Gone.") is None
    text = (out / "fr.po").read_text(encoding="utf-8")
    assert "Gone." not in text and "#:" not in text and "#~" not in text
    # Nothing new: the file is left alone.
    assert cat.update(["fr"], root=src, directory=out) == {"fr": ([], [])}


def test_check_reports_missing_and_inconsistent_translations(tmp_path):
    src, out = tmp_path / "src", tmp_path / "po"
    out.mkdir()
    _write(src, "a.py", "\n".join([
        'N_("Fine {x}.", x=1)', 'N_("Missing.")', 'N_("Placeholder {user}.", user=1)',
        'N_("**Bold** {x}", x=1)', 'Plural("{n} vote", "{n} votes", 2, p="x")',
        'N_("Braces {x}", x=1)', 'N_("Not yet in the catalog.")']))
    cat.update(["nl"], root=src, directory=out)
    po = cat.load("nl", out / "nl.po")
    po["Fine {x}."].string = "Goed {x}."
    po["Placeholder {user}."].string = "Plaatshouder {gebruiker}."
    po["**Bold** {x}"].string = "**Vet {x}"
    po["{n} vote"].string = ("één stem", "{n} stemmen {p}")
    po["Braces {x}"].string = "Accolades {x"
    po.delete("Not yet in the catalog.")
    cat.save(po, out / "nl.po")

    found = {(p.msgid, p.reason.split(" ")[0]) for p in cat.problems(["nl"], src, out)}
    assert found == {("Missing.", "missing"), ("Placeholder {user}.", "placeholders"),
                     ("**Bold** {x}", "1"), ("{n} vote", "placeholders"),
                     ("Braces {x}", "malformed"), ("Not yet in the catalog.", "not")}


def test_check_command_exit_code(capsys):
    complete = not cat.problems()
    assert cat.main(["check"]) == (0 if complete else 1)
    assert ("catalogs complete" in capsys.readouterr().out) == complete
    assert cat.main(["bogus"]) == 2


def test_a_broken_translation_falls_back_to_english(monkeypatch):
    import bot.i18n as i18n

    msg = i18n.Msg("**{id}** is open", id="<P1>")
    monkeypatch.setattr(i18n, "translate",
                        lambda m, lang: "**{oops}** est ouvert" if lang == "fr" else m.msgid)
    assert i18n.render(msg, "fr", as_html=False) == "<P1> is open"
    assert i18n.render(msg, "fr", as_html=True) == "<strong>&lt;P1&gt;</strong> is open"


# --- plural rules: the project's, not the installed CLDR's -------------------------------------

CARRIED = ("Carried {n} item to the agenda of {meeting}: {ids}.",
           "Carried {n} items to the agenda of {meeting}: {ids}.")


@pytest.mark.parametrize(("lang", "n", "expected"), [
    ("fr", 0, "0 point reporté"), ("fr", 1, "1 point reporté"), ("fr", 2, "2 points reportés"),
    ("fr", 1_000_000, "1000000 points reportés"),
    ("nl", 0, "0 agendapunten"), ("nl", 1, "1 agendapunt overgedragen"),
    ("nl", 2, "2 agendapunten"), ("nl", 1_000_000, "1000000 agendapunten"),
])
def test_plural_forms_follow_the_catalogs_rule(lang, n, expected):
    text = render(Plural(*CARRIED, n, meeting="M1", ids="A1"), lang, as_html=False)
    assert text.startswith(expected)


@pytest.mark.parametrize("lang", cat.TRANSLATED)
def test_catalog_tool_keeps_the_projects_plural_rule(lang, tmp_path):
    from bot.i18n import PLURAL_FORMS

    nplurals = int(PLURAL_FORMS[lang].split(";")[0].split("=")[1])
    shipped = cat.load(lang)
    fresh = cat.load(lang, tmp_path / f"{lang}.po")
    for catalog in (shipped, fresh):
        assert catalog.num_plurals == nplurals
        assert catalog.plural_forms == PLURAL_FORMS[lang]
    # a new plural message gets exactly that many forms, and a saved file says so
    _write(tmp_path, "src/a.py", 'Plural("{n} thing", "{n} things", 2)\n')
    cat.update([lang], root=tmp_path / "src", directory=tmp_path)
    again = cat.load(lang, tmp_path / f"{lang}.po")
    assert len(again["{n} thing"].string) == nplurals
    assert f"Plural-Forms: {PLURAL_FORMS[lang]}" in (tmp_path / f"{lang}.po").read_text()
    assert all(len(m.string) == nplurals for m in shipped if isinstance(m.id, tuple))


def test_french_writes_the_first_of_the_month_as_an_ordinal():
    first = datetime(2026, 12, 1, 9, 30, tzinfo=BRUSSELS)
    assert render(When(first, "weekday-date"), "fr", as_html=False) == "mardi 1er décembre 2026"
    assert render(When(first), "fr", as_html=False) == "mar. 1er déc. 2026, 09:30"
    assert render(When(first.date(), "date"), "fr", as_html=False) == "mar. 1er déc. 2026"
    assert render(When(first, "weekday-date"), "nl", as_html=False) == "dinsdag 1 december 2026"
    second = first.replace(day=2)
    assert render(When(second, "weekday-date"), "fr", as_html=False) == \
        "mercredi 2 décembre 2026"
