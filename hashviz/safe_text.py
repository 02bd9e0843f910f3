"""Text that did not come from hashviz (config.json strings, class names, folder names, URL
parameters, file names) made inert for every sink that parses markup: Streamlit markdown, captions,
titles, widget labels and image captions, st.html, and plotly's titles, legends, tick labels and
hover templates.

Markup characters become numeric character references (``[`` -> ``&#91;``): CommonMark, HTML and
plotly's text renderer all decode them back to the literal character *after* parsing, so the reader
sees exactly what was typed and nothing in it can become a link, an image, a tag, a
``:material/icon:`` or ``$math$`` directive, or a plotly ``%{placeholder}``. Plain-text sinks
(dataframes, select boxes, CSV, textContent) take the raw string: escaping there would show the
references themselves.

Pages pass a markup sink only a literal, `fill(template, ...)`, `escape(value)` (pages call it
`as_text`) or `trusted(markdown)` (tests/test_page_text.py reads every page for it): text from outside
is escaped unless a page says, by name, that hashviz already made it safe."""

from __future__ import annotations

import numbers
import re
import string

# Always: link/image/HTML/autolink syntax (``[ ] < > : @ .`` stop ``[l](u)``, ``<a>``, ``http://``,
# ``www.`` and ``a@b.c``), emphasis/code/maths/directives, entities, and plotly's ``%{...}``.
_ALWAYS = str.maketrans({c: f"&#{ord(c)};" for c in "\\`*_{}[]<>|~$:&@%\"'.!"})
# A block marker (list, heading, quote, setext line) only counts at the start of a line.
_LEADING = re.compile(r"^(\s*)([-+#=]|\d+\))")
# Streamlit autolinks bare URLs (http://, www., a@b.c) in the text *after* decoding references, so
# an invisible word joiner goes between ":" and "//", after "@" and inside "www.": shown as typed.
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r":(?=//)|@|(?i:www)(?=\.)")
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def escape(value) -> str:
    """str(value) shown literally by any markup sink; line breaks and control characters become
    spaces (a name must not start a new markdown block), and URLs get an invisible word joiner."""
    text = _LINE_BREAKS.sub(" ", str(value))
    text = _AUTOLINK.sub("\\g<0>" + WORD_JOINER, text).translate(_ALWAYS)
    if match := _LEADING.match(text):
        marker = match.group(2)
        text = match.group(1) + marker[:-1] + f"&#{ord(marker[-1])};" + text[match.end():]
    return text


class _EscapingFormatter(string.Formatter):
    def format_field(self, value, format_spec):
        text = super().format_field(value, format_spec)
        return text if isinstance(value, numbers.Number) else escape(text)   # a number cannot carry markup


_FORMATTER = _EscapingFormatter()


def fill(template: str, *args, **kwargs) -> str:
    """`template.format(*args, **kwargs)` with every substituted value (but numbers) escaped: the template (written
    in hashviz) keeps its markdown, the values cannot add any."""
    return _FORMATTER.format(template, *args, **kwargs)


def trusted(markdown: str) -> str:
    """`markdown` unchanged: hashviz wrote it (a shipped text, a sentence of numbers and fixed words, or
    one whose outside values went through escape or fill), so its markup is meant. The one way a page
    hands a markup sink a string that is neither a literal nor escaped here, named so it can be checked."""
    return markdown


def escape_all(values) -> list[str]:
    """escape() of each value, e.g. class names bound for a figure's legend and hover text."""
    return [escape(v) for v in values]
