"""Markdown and HTML planted in every string a model directory, its folder name and a link carry
reach no page as a link or an image: every page opened in real headless Chromium, checked in its
DOM (and in the requests the browser made), while the planted text shows literally."""

from __future__ import annotations

import json
import shutil
from urllib.parse import quote, urlsplit

import pytest

from browser_support import chromium_page, running_app, screenshot_on_failure, wait_for_app
from hashviz.safe_text import WORD_JOINER

pytestmark = pytest.mark.browser

TRAP = "127.0.0.1:9"                                  # nothing listens there: a fetch would only be seen
PLANTED = f"![p](http://{TRAP}/x.png) [l](http://evil.example) <img src=http://{TRAP}/y.png>"
FOLDERS = ["![f](f.png) <img src=f.png> [l](evil.example)", "[m](evil.example) <b>two</b>"]
CLASS = "[c{i}](http://evil.example) <img src=http://" + TRAP + "/c{i}.png> %{{x}}"
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
    for folder in FOLDERS:
        shutil.copytree(tiny_zoo / "lsh-16", root / folder)
        (root / folder / "config.json").write_text(json.dumps(config))
    return root


def planted_markup(page) -> list[str]:
    """Links and images in the page (shadow roots and plotly's SVG included) that came from the
    planted text."""
    return page.evaluate("""() => {
        const found = [];
        const visit = (root) => {
            for (const el of root.querySelectorAll('a, img, image')) {
                const ref = el.getAttribute('href') || el.getAttribute('xlink:href') || el.getAttribute('src') || '';
                // in-page anchors (#...) of headings may spell a name; data: URIs are our own thumbnails
                if (!/evil|127\\.0\\.0\\.1:9|\\.png$/.test(ref) || /^(data:|#)/.test(ref)) continue;
                let box = el;                                  // name the Streamlit element it sits in
                while (box.parentElement && !box.getAttribute('data-testid')) box = box.parentElement;
                found.push(`${box.getAttribute('data-testid')}: ${box.textContent.slice(0, 120)}`);
            }
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


PAGES = [  # (path and query, text that says the page is drawn)
    ("/?model={m}&view=top-n", "Look closer"),
    ("/?model={m}&view=side-by-side" + LINK_PARAMS, "Models side by side"),
    ("/?model={m}&view=hamming-ball", "Hash lookup"),
    ("/?model={m}&view=bit-flip", "Flip bits"),
    ("/diagnostics?model={m}", "Statistics of the model"),
    ("/code_map?model={m}", "Each point is a database image"),
    ("/evaluate?model={m}", "Every model"),
    ("/compare?model={m}", "Compare"),
    ("/taxonomy?model={m}", "New directions"),
    ("/?model=" + quote(PLANTED), "Look closer"),
]


def test_no_page_turns_planted_markdown_into_a_link_or_an_image(hostile_root):
    model = quote(FOLDERS[0])
    requests: list[str] = []
    with running_app(hostile_root) as (url, _proc, _cold), chromium_page() as page:
        page.on("request", lambda r: requests.append(r.url))
        try:
            for path, ready in PAGES:
                text = open_page(page, url + path.format(m=model), ready)
                assert not (found := planted_markup(page)), (path, found)
                assert "[l](http://evil.example)" in text, path       # the sidebar caption, as typed
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
            page.goto(url + f"/evaluate?model={model}")
            wait_for_app(page)
            page.get_by_role("tab", name="Failure finder").click()
            page.get_by_text("Worst queries by AP", exact=False).first.wait_for(timeout=90000)
            wait_for_app(page)
            assert planted_markup(page) == []
            assert f"Where {FOLDERS[0]}" in shown_text(page)
            page.get_by_role("tab", name="Metric lens").click()
            page.get_by_text("mAP under this rule", exact=False).first.wait_for(timeout=90000)
            assert planted_markup(page) == [] and FOLDERS[0] in shown_text(page)
        except Exception:
            screenshot_on_failure(page, "untrusted-text")
            raise
    assert not [r for r in requests if urlsplit(r).netloc in (TRAP, "evil.example")]   # nothing fetched
