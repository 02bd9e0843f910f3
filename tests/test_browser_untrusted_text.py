"""Markdown and HTML planted in every string a model directory, its folder name and a link carry
reach no page as a link, an image, emphasis or a script: every page opened in real headless
Chromium, checked in its DOM (and in the requests the browser made and the dialogs it opened), while
the planted text shows literally on each page that shows it."""

from __future__ import annotations

import json
import re
import shutil
from urllib.parse import quote, urlsplit

import pytest

from browser_support import chromium_page, running_app, screenshot_on_failure, wait_for_app
from hashviz.safe_text import WORD_JOINER

pytestmark = pytest.mark.browser

TRAP = "127.0.0.1:9"                                  # nothing listens there: a fetch would only be seen
SCRIPTED = "<img src=x onerror=alert(1)> [link](javascript:alert(1))"
PLANTED = (f"**planted-bold** ![p](http://{TRAP}/x.png) [l](http://evil.example) <img src=http://{TRAP}/y.png> "
           + SCRIPTED)
FOLDERS = ["**planted-bold** ![f](f.png) <img src=f.png> [l](evil.example) <img src=x onerror=alert(1)>",
           "[m](evil.example) <b>two [link](javascript:alert(1))"]      # a folder name holds no "/"
CLASS = "**c{i}** [c{i}](http://evil.example) <img src=http://" + TRAP + "/c{i}.png> %{{x}} " + SCRIPTED
ANY_CLASS = re.escape(CLASS.format(i="IDX")).replace("IDX", r"\d+")      # any class name, as typed
HELD_OUT = (8, 9)
LINK_PARAMS = (f"&compare={quote(PLANTED)},{quote(FOLDERS[1])}&query={quote(PLANTED)}"
               f"&n={quote('[n](http://evil.example)')}")


@pytest.fixture(scope="module")
def hostile_root(tiny_zoo, tmp_path_factory):
    """Two copies of the tiny zoo's LSH model whose config strings, class names and folder names are
    markdown and HTML (the same hostile dataset, so they can be compared side by side)."""
    root = tmp_path_factory.mktemp("hostile") / "models"
    config = json.loads((tiny_zoo / "lsh-16" / "config.json").read_text())
    for key in ("family", "method", "paper", "dataset", "protocol"):
        config[key] = f"{PLANTED} {key}"
    config["class_names"] = [CLASS.format(i=i) for i in range(config["num_classes"])]
    config["unseen_classes"] = list(HELD_OUT)           # Evaluate's failure finder names them in a checkbox
    for folder in FOLDERS:
        shutil.copytree(tiny_zoo / "lsh-16", root / folder)
        (root / folder / "config.json").write_text(json.dumps(config))
    return root


def planted_markup(page) -> list[str]:
    """Links, images, emphasis and event handlers in the page (shadow roots and plotly's SVG
    included) that came from the planted text."""
    return page.evaluate("""() => {
        const found = [];
        const report = (el) => {                           // name the Streamlit element it sits in
            let box = el;
            while (box.parentElement && !box.getAttribute('data-testid')) box = box.parentElement;
            found.push(`${box.getAttribute('data-testid')}: ${box.textContent.slice(0, 120)}`);
        };
        const visit = (root) => {
            for (const el of root.querySelectorAll('a, img, image')) {
                const ref = el.getAttribute('href') || el.getAttribute('xlink:href') || el.getAttribute('src') || '';
                // in-page anchors (#...) of headings may spell a name; data: URIs are our own thumbnails
                if (/evil|127\\.0\\.0\\.1:9|\\.png$|^x$|^javascript:/i.test(ref) && !/^(data:|#)/.test(ref)) report(el);
            }
            for (const el of root.querySelectorAll('strong, b, em, i')) {
                if (/^(planted-bold|two|c\\d+)\\b/.test(el.textContent.trim())) report(el);
            }
            for (const el of root.querySelectorAll('[onerror]')) report(el);
            for (const el of root.querySelectorAll('*')) if (el.shadowRoot) visit(el.shadowRoot);
        };
        visit(document);
        for (const frame of document.querySelectorAll('iframe')) {
            try { visit(frame.contentDocument); } catch (e) {}
        }
        return found;
    }""")


def shown_text(page, selector: str = '[data-testid="stApp"]') -> str:
    """What the reader sees (the word joiners that stop autolinks are invisible)."""
    return page.locator(selector).first.inner_text().replace(WORD_JOINER, "")


def open_page(page, url: str, wait_text: str) -> str:
    page.goto(url)
    wait_for_app(page)
    page.get_by_text(wait_text, exact=False).first.wait_for(timeout=90000)
    wait_for_app(page)
    page.wait_for_timeout(1500)                        # plotly draws after the script run ends
    return shown_text(page)


QUERY_LABEL = re.escape("label: ") + ANY_CLASS        # Retrieval's query line names the query's class
PAGES = [  # (path and query, text drawn after the rest, what else the page shows as typed: regexes)
    ("/?model={m}&view=top-n", "Look closer", [QUERY_LABEL]),
    ("/?model={m}&view=side-by-side" + LINK_PARAMS, "ties by database index",
     [QUERY_LABEL, re.escape(f"the link compares unknown model(s) {PLANTED}; left out"),
      re.escape(f"{FOLDERS[1]} ({PLANTED} method, 16 bits")]),
    ("/?model={m}&view=hamming-ball", "Hash lookup", [QUERY_LABEL]),
    ("/?model={m}&view=bit-flip", "Flip bits", [QUERY_LABEL]),
    ("/diagnostics?model={m}", "Statistics of the model", []),
    ("/code_map?model={m}", "Each point is a database image", []),
    ("/evaluate?model={m}", "Every model", [re.escape(f"{PLANTED} protocol")]),
    ("/compare?model={m}", "(A) wins", [re.escape(f"{FOLDERS[0]} (A) wins")]),
    ("/taxonomy?model={m}", "New directions", []),
    ("/?model=" + quote(PLANTED), "Look closer", [re.escape(f"No model named {PLANTED} in this root")]),
]


def test_no_page_turns_planted_markdown_into_markup_and_each_shows_it_as_typed(hostile_root):
    model = quote(FOLDERS[0])
    requests: list[str] = []
    dialogs: list[str] = []
    with running_app(hostile_root) as (url, _proc, _cold), chromium_page() as page:
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        try:
            for path, ready, literals in PAGES:
                text = open_page(page, url + path.format(m=model), ready)
                assert not (found := planted_markup(page)), (path, found)
                assert f"{PLANTED} method" in text, path                 # the sidebar caption, as typed
                assert [lit for lit in literals if not re.search(lit, text)] == [], path
            page.goto(url + f"/?model={model}&view=bit-flip")
            wait_for_app(page)
            page.get_by_text("Flip bits", exact=False).first.wait_for(timeout=60000)
            page.locator('[data-testid="stButtonGroup"] button').first.click()   # flip bit 0
            page.get_by_text("I(bit; class)", exact=False).first.wait_for(timeout=60000)
            wait_for_app(page)
            page.wait_for_timeout(1500)
            assert planted_markup(page) == []
            svg = shown_text(page, ".js-plotly-plot")
            assert "[c0](http://evil.example)" in svg and "%{x}" in svg   # class names as typed in the figure
            assert re.search(QUERY_LABEL, shown_text(page))
            page.goto(url + f"/evaluate?model={model}")
            wait_for_app(page)
            page.get_by_role("tab", name="Failure finder").click()
            page.get_by_text("Worst queries by AP", exact=False).first.wait_for(timeout=90000)
            wait_for_app(page)
            assert planted_markup(page) == []
            held_out = ", ".join(CLASS.format(i=c) for c in HELD_OUT)
            assert f"Where {FOLDERS[0]}" in (text := shown_text(page))
            assert f"Only queries of held-out classes ({held_out})" in text
            page.get_by_role("tab", name="Metric lens").click()
            page.get_by_text("mAP under this rule", exact=False).first.wait_for(timeout=90000)
            assert planted_markup(page) == [] and FOLDERS[0] in shown_text(page)
        except Exception:
            screenshot_on_failure(page, "untrusted-text")
            raise
    assert not [r for r in requests if urlsplit(r).netloc in (TRAP, "evil.example")]   # nothing fetched
    assert dialogs == []                                                                # no script ran
