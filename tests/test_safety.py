"""Safety rules that a source scan and the config files can check (docs/reliability.md).

- Nothing is unpickled and no user data is evaluated: the code under hashviz/, pages/, app.py
  and bench/ has no pickle.load(s) / Unpickler, no torch.load without weights_only=True, no
  np.load with allow_pickle other than False, no builtin eval( or exec( call (and none of
  pandas.read_pickle, joblib.load, dill.load, shelve.open, marshal.load(s), yaml.load).
- hashviz never imports streamlit (docs/CONTRACTS.md).
- The app listens on 127.0.0.1 by default and caps uploads.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCANNED = [REPO / "hashviz", REPO / "pages", REPO / "app.py", REPO / "bench"]
MAX_UPLOAD_MB = 50          # the cap may be lower, never absent or higher

# module -> functions that deserialise arbitrary objects (run code)
UNSAFE = {
    "pickle": {"load", "loads", "Unpickler"},
    "cPickle": {"load", "loads", "Unpickler"},
    "_pickle": {"load", "loads", "Unpickler"},
    "dill": {"load", "loads"},
    "cloudpickle": {"load", "loads"},
    "joblib": {"load"},
    "shelve": {"open"},
    "marshal": {"load", "loads"},
    "pandas": {"read_pickle"},
    "pd": {"read_pickle"},
    "yaml": {"load", "unsafe_load", "full_load"},
}


def _dotted(node: ast.AST) -> str | None:
    """'np.load' for the call target np.load, None for anything that is not a dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _keyword(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def unsafe_calls(source: str, filename: str = "<source>") -> list[str]:
    """Every unsafe deserialisation or eval/exec in `source`, as 'file:line: what'."""
    tree = ast.parse(source, filename)
    found = []
    imported = {}            # local name -> (module, function) for `from pickle import loads as l`
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            for alias in node.names:
                if alias.name in UNSAFE.get(top, ()):
                    imported[alias.asname or alias.name] = (top, alias.name)
                    found.append(f"{filename}:{node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        target = _dotted(node.func)
        if target is None:
            continue
        parts = target.split(".")
        where = f"{filename}:{node.lineno}: {target}("
        if target in ("eval", "exec") or target in ("builtins.eval", "builtins.exec"):
            found.append(where + " (builtin eval/exec)")
        elif len(parts) >= 2 and parts[-1] in UNSAFE.get(parts[-2], ()):
            if parts[-2] == "yaml" and parts[-1] == "load" and _safe_yaml(node):
                continue
            found.append(where + " (deserialises arbitrary objects)")
        elif target in imported:
            found.append(where + " (deserialises arbitrary objects)")
        elif parts[-1] == "load" and len(parts) >= 2 and parts[-2] == "torch":
            if not _is_const(_keyword(node, "weights_only"), True):
                found.append(where + " without weights_only=True")
        elif parts[-1] == "load" and len(parts) >= 2 and parts[-2] in ("np", "numpy"):
            allow = _keyword(node, "allow_pickle")
            if allow is not None and not _is_const(allow, False):
                found.append(where + " with allow_pickle not False")
    return found


def _safe_yaml(call: ast.Call) -> bool:
    loader = _keyword(call, "Loader") or (call.args[1] if len(call.args) > 1 else None)
    name = _dotted(loader) if loader is not None else None
    return bool(name and name.split(".")[-1] in ("SafeLoader", "CSafeLoader", "BaseLoader"))


def scanned_files() -> list[Path]:
    files = []
    for root in SCANNED:
        files += [root] if root.is_file() else sorted(root.rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts]


def test_the_scan_covers_the_code():
    names = {str(f.relative_to(REPO)) for f in scanned_files()}
    assert {"app.py", "hashviz/zoo.py", "hashviz/cli.py", "pages/common.py"} <= names
    assert any(n.startswith("bench/") for n in names)


@pytest.mark.parametrize("path", scanned_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_unpickling_and_no_eval(path):
    problems = unsafe_calls(path.read_text(), str(path.relative_to(REPO)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("snippet", [
    "import pickle\npickle.load(f)",
    "import pickle\nx = pickle.loads(data)",
    "import pickle\npickle.Unpickler(f).load()",
    "from pickle import loads\nloads(b)",
    "from pickle import load as l\nl(f)",
    "import torch\ntorch.load(p)",
    "import torch\ntorch.load(p, weights_only=False)",
    "import torch\ntorch.load(p, weights_only=flag)",
    "import numpy as np\nnp.load(p, allow_pickle=True)",
    "import numpy\nnumpy.load(p, allow_pickle=flag)",
    "eval(user_text)",
    "exec(code)",
    "import builtins\nbuiltins.eval('1')",
    "import pandas as pd\npd.read_pickle(p)",
    "import joblib\njoblib.load(p)",
    "import yaml\nyaml.load(text)",
    "import yaml\nyaml.unsafe_load(text)",
])
def test_the_scanner_catches(snippet):
    assert unsafe_calls(snippet)


@pytest.mark.parametrize("snippet", [
    "net.eval()",
    "model.eval(); self.method.eval()",
    "import numpy as np\nnp.load(p, allow_pickle=False)",
    "import numpy as np\nnp.load(p)",
    "import torch\ntorch.load(p, weights_only=True)",
    "import json\njson.loads(s)",
    "from safetensors.numpy import load_file\nload_file(p)",
    "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)",
    "import yaml\nyaml.safe_load(text)",
    "s = 'pickle.load(f) and eval(x) inside a string'",
])
def test_the_scanner_allows(snippet):
    assert unsafe_calls(snippet) == []


def test_hashviz_never_imports_streamlit():
    offenders = []
    for path in sorted((REPO / "hashviz").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(REPO)}:{node.lineno}" for n in names if n.split(".")[0] == "streamlit"]
    assert not offenders


# ---------------------------------------------------------------- how the app is served

@pytest.fixture(scope="module")
def streamlit_config() -> dict:
    return tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())


def test_the_app_binds_to_loopback_by_default(streamlit_config):
    assert streamlit_config["server"]["address"] == "127.0.0.1"
    run = re.search(r"^run:.*\n((?:\t.*\n?)+)", (REPO / "Makefile").read_text(), re.M)
    assert run, "the Makefile has no run target"
    assert re.search(r"streamlit run app\.py .*--server\.address 127\.0\.0\.1", run.group(1))


def test_uploads_have_a_size_limit(streamlit_config):
    limit = streamlit_config["server"].get("maxUploadSize")
    assert isinstance(limit, int) and 1 <= limit <= MAX_UPLOAD_MB, limit


def test_users_see_no_tracebacks(streamlit_config):
    """Error details (tracebacks, paths) are for the server log, not the browser."""
    assert streamlit_config.get("client", {}).get("showErrorDetails") in ("none", False)
