"""Every ```python example of docs/python-api.md runs as written, top to bottom, in one namespace
(as a reader pastes them into one notebook), and prints what its comments say."""

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def test_every_python_example_of_the_api_docs_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 7
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for number, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name} example {number + 1}", "exec"), namespace)
    out = printed.getvalue()
    assert "map_all" in out and "http://127.0.0.1:" in out and "b'ok'" in out
    assert "query codes have 32 bits, database codes 12" in out
    assert (namespace["table"]["winner"] == "tie").all()          # a bit permutation keeps every distance
    assert namespace["saved"].has_weights and "True\n" in out       # the network came along
    assert not namespace["app"].running
