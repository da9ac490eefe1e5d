"""Positions in TOML text: lines for messages, spans for small edits."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from oauthcli._tomltext import dotted, remove_key, scan, set_key

TRICKY = """\
# top
default_profile = "work"   # the usual

[profiles.work]  # header comment
scope = [
  "openid",  # a comment ] inside
  "x]y",
]
note = \"\"\"multi
[profiles.fake]
fake = 1
ends with quotes\"\"\"\"\"
lit = '''raw \"\"\" [not.a.table]
'''
param = { prompt = "consent", "a.b" = 'c' }
when = 1979-05-27 07:32:00Z
"quoted key" = 1

[ profiles . 'my.home' ]
client_id = "x"
"""


def test_every_key_gets_the_line_it_is_written_on() -> None:
    tomllib.loads(TRICKY)  # the scanner only reads valid documents

    layout = scan(TRICKY)

    assert layout.complete
    assert layout.lines == {
        ("default_profile",): 2,
        ("profiles",): 4,
        ("profiles", "work"): 4,
        ("profiles", "work", "scope"): 5,
        ("profiles", "work", "note"): 9,
        ("profiles", "work", "lit"): 13,
        ("profiles", "work", "param"): 15,
        ("profiles", "work", "param", "prompt"): 15,
        ("profiles", "work", "param", "a.b"): 15,
        ("profiles", "work", "when"): 16,
        ("profiles", "work", "quoted key"): 17,
        ("profiles", "my.home"): 19,
        ("profiles", "my.home", "client_id"): 20,
    }


def test_value_spans_cover_the_value_only() -> None:
    layout = scan(TRICKY)
    values = {
        s.path[-1]: TRICKY[s.value_start : s.value_end] for s in layout.statements
    }

    assert values["default_profile"] == '"work"'
    assert values["when"] == "1979-05-27 07:32:00Z"
    assert values["note"].endswith('quotes"""""')
    assert values["scope"].startswith("[")
    assert values["scope"].endswith("]")


def test_windows_line_endings_count_lines_the_same() -> None:
    text = '[profiles.work]\r\n\r\nissuer = "i"\r\n'

    assert scan(text).lines[("profiles", "work", "issuer")] == 3
    assert set_key(text, ("profiles", "work", "scope"), '"openid"') == (
        '[profiles.work]\r\n\r\nissuer = "i"\r\nscope = "openid"\r\n'
    )


def test_text_that_is_not_valid_stops_the_scan_without_guessing() -> None:
    layout = scan('[profiles.work]\nissuer = "i"\nbroken = = 1\nlater = 2\n')

    assert not layout.complete
    assert layout.lines[("profiles", "work", "issuer")] == 2
    assert ("profiles", "work", "later") not in layout.lines


def test_a_key_inside_an_inline_table_is_left_to_the_caller() -> None:
    text = '[profiles.work]\nparam = { hd = "x" }\n'

    assert set_key(text, ("profiles", "work", "param", "prompt"), '"a"') is None
    assert remove_key(text, ("profiles", "work", "param", "hd")) is None


def test_a_key_under_a_table_without_its_own_header_is_written_dotted() -> None:
    text = '[profiles.work]\nissuer = "i"\n\n[profiles.home]\n'

    assert set_key(text, ("profiles", "work", "param", "hd"), '"x"') == (
        '[profiles.work]\nissuer = "i"\nparam.hd = "x"\n\n[profiles.home]\n'
    )


def test_a_missing_path_is_removed_as_nothing() -> None:
    assert remove_key(TRICKY, ("profiles", "none")) == TRICKY


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("profiles", "work"), "profiles.work"),
        (("profiles", "my.home", "scope"), 'profiles."my.home".scope'),
        (("profiles", "a b"), 'profiles."a b"'),
        (("profiles", 'say "hi" \\o/'), 'profiles."say \\"hi\\" \\\\o/"'),
    ],
)
def test_dotted_quotes_only_the_parts_that_need_it(
    path: tuple[str, ...], text: str
) -> None:
    assert dotted(path) == text
    parsed: Any = tomllib.loads(f"{text} = 1")
    for part in path:
        parsed = parsed[part]
    assert parsed == 1


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("\x1b[2J", '"\\u001b[2J"'),
        ("\u202eevil", '"\\u202eevil"'),  # a bidi override was shown raw
        ("\U00018cd6", '"\\U00018cd6"'),  # unassigned: shown raw too
    ],
)
def test_dotted_escapes_what_could_act_on_a_terminal_and_stays_the_same_key(
    key: str, text: str
) -> None:
    assert dotted(("profiles", key)) == f"profiles.{text}"
    assert tomllib.loads(f"profiles.{text} = 1") == {"profiles": {key: 1}}
