"""Pages escape by default: every string a page hands to a Streamlit element that renders markdown
(text, captions, alerts, headings, widget labels and help, image captions, progress text) is a
literal the page wrote (or a module constant holding one), `fill(template, ...)`, `as_text(value)` or `trusted(markdown)`
(hashviz.safe_text). An f-string, a concatenation with a value or a bare value from a model, a URL
or a file fails here, before any reader sees it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted((REPO / "pages").glob("*.py")) + [REPO / "app.py"]

# element -> its text arguments: positions, then keywords (all of them markdown in Streamlit)
LABELLED = ("button", "checkbox", "toggle", "radio", "selectbox", "multiselect", "slider", "select_slider",
            "number_input", "text_input", "text_area", "file_uploader", "pills", "segmented_control",
            "download_button", "link_button", "metric", "expander", "popover", "status", "spinner", "toast")
TEXT = ("markdown", "caption", "write", "info", "warning", "error", "success", "title", "header", "subheader",
        "html", "tabs")
SINKS = {**{name: ((0,), ("label", "help")) for name in LABELLED},
         **{name: ((0,), ("body", "help")) for name in TEXT},
         "image": ((), ("caption",)), "progress": ((1,), ("text",))}
SAFE_CALLS = {"fill", "as_text", "escape", "trusted"}


def literal_constants(tree: ast.Module) -> set[str]:
    """Module-level names bound to a string literal (PQ_NOTE = "...")."""
    return {target.id for node in tree.body if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets if isinstance(target, ast.Name)}


def is_safe(node: ast.AST, constants: set[str] = frozenset()) -> bool:
    """A literal, an escaping call (fill's template itself a literal or trusted), or built of them."""
    if isinstance(node, ast.Constant) or isinstance(node, ast.Name) and node.id in constants:
        return True
    safe = lambda child: is_safe(child, constants)  # noqa: E731
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return safe(node.left) and safe(node.right)
    if isinstance(node, ast.IfExp):
        return safe(node.body) and safe(node.orelse)
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(map(safe, node.elts))
    if isinstance(node, ast.ListComp):
        return safe(node.elt)
    if isinstance(node, ast.Call):
        name = getattr(node.func, "id", getattr(node.func, "attr", None))
        if name == "fill":
            return bool(node.args) and safe(node.args[0])
        return name in SAFE_CALLS
    return False


def unescaped_text(path: Path) -> list[str]:
    found, tree = [], ast.parse(path.read_text())
    constants = literal_constants(tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SINKS):
            continue
        positions, keywords = SINKS[node.func.attr]
        texts = [node.args[i] for i in positions if i < len(node.args)]
        texts += [k.value for k in node.keywords if k.arg in keywords]
        found += [f"{path.name}:{node.lineno} {node.func.attr}({ast.unparse(t)[:70]})" for t in texts if not is_safe(t, constants)]
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_markup_sink_gets_a_literal_or_escaped_text(path):
    assert unescaped_text(path) == []


def test_the_check_catches_interpolated_and_bare_values(tmp_path):
    page = tmp_path / "page.py"
    page.write_text('NOTE = "fixed"\nst.caption(f"{model.name}")\ncol.markdown(model.name)\nst.button("Show " + name)\n'
                    'st.image(x, caption=names[0])\nst.metric("a", 1, help=note)\nst.markdown(fill(template, x))\n'
                    'st.caption(fill("{}", name))\nst.image(x, caption=[as_text(n) for n in names])\n'
                    'st.tabs(["A", "B"])\nst.info(trusted(R.ball_note(b)))\nst.info(NOTE)\nst.info(NOTES)\n')
    assert [line.split()[0] for line in unescaped_text(page)] == [f"page.py:{i}" for i in [*range(2, 8), 13]]
