"""hashviz.safe_text: text from outside hashviz reaches markdown, HTML and plotly as plain text."""

from __future__ import annotations

import html

import pytest

from hashviz.safe_text import WORD_JOINER, escape, escape_all, fill

HOSTILE = ["![p](http://127.0.0.1:9/x.png)", "[l](http://evil)", "<img src=x onerror=alert(1)>", "%{x}",
           "`code` *em* _u_ ~s~ $x^2$ :material/home: :red[red]", "www.evil.example", "a@evil.example",
           "# heading", "- item", "12) item", "&lt;b&gt;", "a|b", "line\nbreak\u2028here"]


def reader_sees(text: str) -> str:
    """What markdown, HTML and plotly show: character references decoded, word joiners invisible."""
    return html.unescape(text).replace(WORD_JOINER, "")


@pytest.mark.parametrize("value", HOSTILE)
def test_escaped_text_reads_as_typed_and_holds_no_markup_character(value):
    out = escape(value)
    assert reader_sees(out) == value.replace("\n", " ").replace("\u2028", " ")
    for raw in "[]<>`*_~$:&%{}|@\n\u2028":
        assert raw not in out.replace("&#", "").replace(";", ""), (raw, out)
    decoded = html.unescape(out)           # what an autolinker sees: no "http:" "www." or "a@b" left whole
    assert "://" not in decoded and all(decoded[i + 1] == WORD_JOINER for i, c in enumerate(decoded) if c == "@")
    assert "www." not in decoded.lower()


def test_block_markers_are_escaped_only_at_the_start():
    assert escape("- item").startswith("&#45;") and escape("a - b") == "a - b"
    assert escape("12) x") == "12&#41; x" and escape("(a) b") == "(a) b"


def test_fill_escapes_the_values_not_the_template_and_keeps_numbers():
    assert fill("**{}** · {:.3f} · {n}", "[x](y)", 0.5, n=3) == "**&#91;x&#93;(y)** · 0.500 · 3"


def test_escape_all_and_plain_strings_unchanged():
    assert escape_all(["dpsh-16", "T-shirt/top"]) == ["dpsh-16", "T-shirt/top"]
    assert WORD_JOINER not in escape("arXiv:1908.00347")           # no joiner where no URL can form
