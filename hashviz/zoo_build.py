"""The starter zoo the app opens with, and the results table of docs/results.md."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from hashviz.data import describe_protocol
from hashviz.errors import HashvizError
from hashviz import metrics
from hashviz.training import TrainSpec, build_model
from hashviz.zoo import discover, load_model_dir

# One 32-bit model per family on fmnist-1k, plus the two classic shallow baselines: about 8 min
# from nothing on 2 cores (docs/results.md, Timing). models/ also ships GreedyHash, the best
# model of the results table, and the 16/64-bit and ablation models, so `make run` trains nothing.
STARTER_ZOO = {
    "dpsh-32": "dpsh", "dtsh-32": "dtsh", "hashap-32": "hashap", "csq-32": "csq",
    "dpq-32": "dpq", "itq-32": "itq", "lsh-32": "lsh",
}


def _present(path: Path) -> bool:
    try:
        load_model_dir(path)
        return True
    except HashvizError:
        return False


def build_starter_zoo(root: Path, progress=None, log: Callable[[str], None] = print,
                      only: list[str] | None = None, projections: bool = True,
                      dataset: str = "fashion-mnist", bits: int = 32, **spec_overrides) -> list[Path]:
    """Build the missing starter models under root (valid ones are kept); returns what was built."""
    from hashviz.methods import list_methods
    known = {m.name for m in list_methods()}
    _refuse_unknown("--only", only, [k for k, v in STARTER_ZOO.items() if v in known])
    entries = {k: v for k, v in STARTER_ZOO.items() if v in known and (not only or k in only)}
    built = []
    for name, method in entries.items():
        out = Path(root) / name
        if _present(out):
            log(f"{name}: present, skipped")
            continue
        start = time.perf_counter()
        log(f"{name}: training {method} ({bits} bits, {dataset})")
        build_model(TrainSpec(method=method, bits=bits, dataset=dataset, **spec_overrides), out,
                    progress=progress, overwrite=out.exists())
        log(f"{name}: done in {time.perf_counter() - start:.0f} s")
        built.append(out)
    if projections:
        precompute_projections(root, log)
    return built


def precompute_projections(root: Path, log: Callable[[str], None] = print) -> None:
    """UMAP code maps of every valid model (cached on disk by content; the Code map page reuses them)."""
    from hashviz.codemap import code_map_projection
    models, _ = discover(root)
    for model in models:
        start = time.perf_counter()
        code_map_projection(model, method="umap")
        log(f"{model.name}: code map ready ({time.perf_counter() - start:.0f} s)")


# ---------------------------------------------------------------- results table

ABLATION_METHODS = ("dpsh", "csq")
ABLATION_TRICKS = {"balance": 0.1, "decorrelation": 0.1, "quantization": 0.1}


def results_table(root: Path, out: Path, bits=(16, 32, 64), methods: list[str] | None = None,
                  progress=None, log: Callable[[str], None] = print, ablation: bool = True,
                  dataset: str = "fashion-mnist") -> Path:
    """Train every method at every length (skipping models already in root) and write markdown."""
    from hashviz.methods import list_methods
    known = [m.name for m in list_methods()]
    _refuse_unknown("--methods", methods, known)
    _check_results_file(Path(out))      # before hours of training, not after
    infos = [m for m in list_methods() if methods is None or m.name in methods]
    rows = []
    for info in infos:
        for b in bits:
            path = _ensure(Path(root) / f"{info.name}-{b}", TrainSpec(info.name, b, dataset=dataset),
                           progress, log)
            rows.append(path)
    ablations = []
    if ablation:
        for name in ABLATION_METHODS:
            base = Path(root) / f"{name}-32"
            ablations.append(("none", base))
            for trick, weight in ABLATION_TRICKS.items():
                spec = TrainSpec(name, 32, dataset=dataset, regularizers={trick: weight})
                ablations.append((f"{trick}={weight}", _ensure(Path(root) / f"{name}-32-{trick}", spec,
                                                               progress, log)))
    write_results(Path(out), render_results(rows, ablations))
    log(f"wrote {out}")
    return Path(out)


NOTES_MARKER = "<!-- notes: written by hand, kept when the table is regenerated -->"


def _refuse_unknown(flag: str, given, known) -> None:
    unknown = [name for name in given or () if name not in known]
    if unknown:
        raise HashvizError(f"{flag}: unknown {', '.join(map(repr, unknown))}; known: {', '.join(known)}")


def _check_results_file(out: Path) -> None:
    if out.is_dir() or out.parent.is_file():
        raise HashvizError(f"--out {out} must name a markdown file, not {'a folder' if out.is_dir() else 'one under a file'}")


def write_results(out: Path, table: str) -> None:
    """Write the generated table atomically, keeping any hand-written notes below NOTES_MARKER."""
    _check_results_file(out)
    notes = ""
    if out.is_file():
        old = out.read_text()
        if NOTES_MARKER in old:
            notes = old[old.index(NOTES_MARKER):]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(table + ("\n" + notes if notes else ""))
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise HashvizError(f"cannot write {out}: {exc.strerror or exc}") from None


def _ensure(path: Path, spec: TrainSpec, progress, log) -> Path:
    if _present(path):
        return path
    log(f"training {path.name}")
    return build_model(spec, path, progress=progress, overwrite=path.exists())


def render_results(rows: list[Path], ablations: list[tuple[str, Path]]) -> str:
    models = [load_model_dir(p) for p in rows]
    protocol = describe_protocol(models[0].protocol) if models else ""
    lines = [
        "# Results", "",
        "Reproduce: `hashviz zoo results` (trains every method at 16, 32 and 64 bits; models kept in "
        "`results-models/`).", "",
        f"Protocol: {protocol}. Seed 0, one run each. Ranking by Hamming distance with ties by "
        "database index. Model selection: best validation mAP over epochs, never the queries. pq "
        "methods rank by asymmetric distance, so their Hamming-only columns are n/a. The columns:", "",
        *[f"- **{m.label}**: {m.definition}." for m in metrics.reported_metrics()], "",
        *_table_head(["method", "family", "bits"], ["train s", "recipe"]),
    ]
    for m in models:
        lines.append(_table_row([m.method, m.family, str(m.bits)], m.metrics,
                                [f"{m.config.get('train_seconds', float('nan')):.0f}", recipe_summary(m.config)]))
    if ablations:
        lines += ["", "## Ablation: the survey's tricks at 32 bits", "", *_table_head(["method", "regulariser"], [])]
        for trick, path in ablations:
            m = load_model_dir(path)
            lines.append(_table_row([m.method, trick], m.metrics, []))
    return "\n".join(lines) + "\n"


def _table_head(first: list[str], last: list[str]) -> list[str]:
    columns = first + [m.label for m in metrics.reported_metrics()] + last
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def _table_row(first: list[str], values: dict, last: list[str]) -> str:
    cells = first + [metrics.format_metric(m, values.get(m.key)) for m in metrics.reported_metrics()] + last
    return "| " + " | ".join(cells) + " |"


def recipe_summary(config: dict) -> str:
    """'36 ep, batch 64, lr 0.001, wd 0.5, bf16' from a deep model's recorded spec; 'closed form' for shallow."""
    spec = config.get("spec") or {}
    if not config.get("backbone") or not spec.get("epochs"):
        return "closed form"
    parts = [f"{spec['epochs']} ep", f"batch {spec.get('batch_size')}", f"lr {spec.get('lr'):g}"]
    if (spec.get("weight_decay") or 0) > 1e-5:
        parts.append(f"wd {spec['weight_decay']:g}")
    if spec.get("precision"):
        parts.append(spec["precision"])
    return ", ".join(parts)
