"""The starter zoo the app opens with, and the results table of docs/results.md."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Callable, Sequence

from hashviz.ablations import ABLATIONS, Ablation
from hashviz.data import PROTOCOLS, describe_protocol
from hashviz.data.protocols import UNSEEN_PROTOCOLS
from hashviz.atomic_files import write_text_atomically
from hashviz.errors import HashvizError
from hashviz import metrics
from hashviz.seeds import SeedGroup, group_by_seed, mean_sd_text
from hashviz.training import TrainSpec, build_model
from hashviz.zoo import discover, load_model_dir

# One 32-bit model per family on fmnist-1k (the unsupervised family: CIBHash; the ensemble: two 16-bit
# GreedyHash members), plus the two classic shallow baselines. models/ ships them with GreedyHash, the
# best single model, and the 16/64-bit and ablation models, so `make run` trains nothing
# (docs/results.md, Timing).
STARTER_ZOO = {
    "dpsh-32": "dpsh", "dtsh-32": "dtsh", "hashap-32": "hashap", "csq-32": "csq",
    "dpq-32": "dpq", "cibhash-32": "cibhash", "itq-32": "itq", "lsh-32": "lsh",
    "ensemble-32": "ensemble",     # default hyper: 2 greedyhash members of 16 bits, seeds (2 trainings)
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

SEEDED_BITS = 32    # the table's length of record: its rows and the ablations run with several seeds


def _with_extra_seeds(paths: list[Path]) -> list[Path]:
    """paths plus, after each seed-0 model, its seeds 1, 2, ... present in the same folder: a row is
    the mean of every seed trained for it (a row that a verdict needed more seeds for is trained with
    a larger --seeds and --methods), and its n says how many."""
    out = []
    for path in paths:
        out.append(path)
        seed = 1
        while not _SEEDED.search(path.name) and _present(more := path.parent / seed_name(path.name, seed)):
            out.append(more)
            seed += 1
    return list(dict.fromkeys(out))


_SEEDED = re.compile(r"-s\d+$")


def seed_name(stem: str, seed: int) -> str:
    """Seed 0 keeps the plain name (models of earlier runs stay valid); seed s adds -s<s>: dpsh-32-s1."""
    return stem if seed == 0 else f"{stem}-s{seed}"


class _Run:
    """Builds what is missing under root (with train=False only notes it) and counts what it trained,
    what it kept and what is missing."""

    def __init__(self, root: Path, dataset: str, overrides: dict, progress, log, train: bool = True):
        self.root, self.dataset, self.overrides, self.progress, self.log = root, dataset, overrides, progress, log
        self.train, self.trained, self.kept, self.seen, self.missing = train, 0, 0, {}, []

    def ensure(self, name: str, method: str, bits: int, seed: int, **spec) -> Path | None:
        if name not in self.seen:             # an ablation's baseline is a row of the table
            self.seen[name] = self._build(name, method, bits, seed, **spec)
        return self.seen[name]

    def _build(self, name: str, method: str, bits: int, seed: int, **spec) -> Path | None:
        path = self.root / name
        if _present(path):
            self.kept += 1
            return path
        if not self.train:
            self.missing.append(name)
            return None
        self.log(f"training {name}")
        self.trained += 1
        return build_model(TrainSpec(method, bits, dataset=self.dataset, seed=seed, **{**spec, **self.overrides}),
                           path, progress=self.progress, overwrite=path.exists())


def results_table(root: Path, out: Path, bits=(16, 32, 64), methods: list[str] | None = None, seeds: int = 3,
                  progress=None, log: Callable[[str], None] = print, ablation: bool = True,
                  ablations: Sequence[Ablation] | None = None, dataset: str = "fashion-mnist",
                  protocol: str | None = None, train: bool = True, **spec_overrides) -> Path:
    """Train every method at every length, SEEDED_BITS and the ablations with `seeds` seeds (skipping
    models already in root), and write markdown: mean ± sd over seeds, the conclusions judged against
    the noise, and the run's wall time. spec_overrides: TrainSpec fields for every model (quick tests).
    A protocol that holds classes out (fmnist-unseen2) trains no ablation and writes its own section
    of `out`, the four seen/unseen settings side by side (hashviz.unseen_results). train=False trains
    nothing: the tables come from the models present and the note names the missing ones."""
    start = time.perf_counter()
    from hashviz.methods import list_methods
    known = [m.name for m in list_methods()]
    _refuse_unknown("--methods", methods, known)
    if seeds < 1:
        raise HashvizError(f"--seeds must be at least 1, got {seeds}")
    _check_results_file(Path(out))      # before hours of training, not after
    _refuse_unknown("--protocol", [protocol] if protocol else None, PROTOCOLS)
    held_out = protocol in UNSEEN_PROTOCOLS
    spec_overrides = {**spec_overrides, **({"protocol": protocol} if protocol else {})}
    run = _Run(Path(root), dataset, spec_overrides, progress, log, train)
    rows = [run.ensure(seed_name(f"{info.name}-{b}", s), info.name, b, s)
            for info in list_methods() if methods is None or info.name in methods
            for b in bits for s in range(seeds if b == SEEDED_BITS else 1)]
    studied = []
    for study in (ABLATIONS if ablations is None else ablations) if ablation and not held_out else ():
        paths = [path for arm in study.arms if arm.method in known for s in range(seeds)
                 for path in (run.ensure(seed_name(arm.baseline, s), arm.baseline_method or arm.method, arm.bits, s),
                              run.ensure(seed_name(arm.name, s), arm.method, arm.bits, s, **arm.spec))]
        studied.append((study, [p for p in dict.fromkeys(paths) if p is not None]))
    rows = [p for p in rows if p is not None]
    rows, studied = _with_extra_seeds(rows), [(study, _with_extra_seeds(paths)) for study, paths in studied]
    minutes, secs = divmod(round(time.perf_counter() - start), 60)
    note = (f"This run took {minutes} min {secs:02d} s wall clock on {os.cpu_count()} CPU cores: {run.trained} "
            f"model(s) trained, {run.kept} already in `{root}` and kept (their training is not in this time).")
    if not train:
        note = (f"Rendered from the {run.kept} model(s) present in `{root}` (nothing trained); not trained yet: "
                f"{_missing_text(run.missing)}.")
    if held_out:
        from hashviz.unseen_results import render_settings, write_section
        command = (f"hashviz zoo results --protocol {protocol} --root {root} --bits {' '.join(map(str, bits))} "
                   f"--seeds {seeds}" + (f" --methods {' '.join(methods)}" if methods else ""))
        write_section(Path(out), protocol, render_settings(rows, protocol, command, note))
    else:
        write_results(Path(out), render_results(rows, studied, seeds=seeds, run_note=note))
    log(f"wrote {out}")
    return Path(out)


NOTES_MARKER = "<!-- notes: written by hand, kept when the table is regenerated -->"


def _missing_text(names: list[str]) -> str:
    """"dch-32 (seeds 0, 1, 2); itq-32 (seed 2)" from model names (seed_name's -s<seed> suffix)."""
    seeds: dict[str, list[int]] = {}
    for name in names:
        stem, _, seed = name.rpartition("-s")
        stem, seed = (stem, int(seed)) if stem and seed.isdigit() else (name, 0)
        seeds.setdefault(stem, []).append(seed)
    return "; ".join(f"{stem} (seed{'s' if len(v) > 1 else ''} {', '.join(map(str, sorted(v)))})"
                     for stem, v in seeds.items()) or "none"


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
    write_text_atomically(out, table + ("\n" + notes if notes else ""))


def render_results(rows: list[Path], ablations: Sequence[tuple[Ablation, list[Path]]] = (), seeds: int = 1,
                   run_note: str = "") -> str:
    """The markdown of docs/results.md: one row per group of seeds (mean ± sd), one table per
    ablation, then the conclusions judged against the noise."""
    models = [load_model_dir(p) for p in rows]
    studied = [(study, [load_model_dir(p) for p in paths]) for study, paths in ablations]
    protocol = describe_protocol(models[0].protocol) if models else ""
    other = sorted({m.bits for m in models} - {SEEDED_BITS})
    lines = [
        "# Results", "",
        f"Reproduce: `hashviz zoo results --seeds {seeds}` (trains every method at 16, 32 and 64 bits; models "
        "kept in `results-models/`; it trains only what is missing). " + run_note, "",
        f"Protocol: {protocol}. Seeds: the {SEEDED_BITS}-bit rows and the ablations ran with {seeds} seed(s) "
        f"each (0 to {seeds - 1}; a seed also draws the protocol's sample of images), shown as mean ± sample "
        "sd with n (`n`)" + (f"; the {' and '.join(map(str, other))}-bit rows ran with seed 0 only, to fit "
                              "the run's time" if other else "") + ". "
        "Ranking by Hamming distance with ties by database index. Model selection: best validation mAP over "
        "epochs, never the queries. pq methods rank by asymmetric distance, so their Hamming-only columns "
        "are n/a. The columns:", "",
        *[f"- **{m.label}**: {m.definition}." for m in metrics.reported_metrics()], "",
        *_table_head(["method", "family", "bits", "n"], ["train s", "recipe"]),
    ]
    for g in group_by_seed(models):
        seconds = [m.config.get("train_seconds", float("nan")) for m in g.models]
        lines.append(_table_row([g.key.method, g.key.family, str(g.key.bits), str(len(g.models))], g,
                                [f"{sum(seconds) / len(seconds):.0f}", recipe_summary(g.models[0].config)]))
    for study, members in studied:
        lines += ["", f"## Ablation: {study.title}", "", *_table_head(["method", "variant", "n"], [])]
        for g in group_by_seed(members):
            lines.append(_table_row([g.key.method, study.variant(g.key) or "none", str(len(g.models))], g, []))
    everything = list({m.path: m for m in models + [m for _, members in studied for m in members]}.values())
    return "\n".join(lines + _conclusion_lines(everything, [study for study, _ in studied])) + "\n"


def _conclusion_lines(models: list, ablations: list[Ablation]) -> list[str]:
    from hashviz.leaderboard import conclusion_lines
    return ["", "## The survey's conclusions against the noise", "", *conclusion_lines(models, ablations)]


def _table_head(first: list[str], last: list[str]) -> list[str]:
    columns = first + [m.label for m in metrics.reported_metrics()] + last
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def _table_row(first: list[str], group: SeedGroup, last: list[str]) -> str:
    cells = first + [mean_sd_text(*group.stats(m.key)[:2], m.fmt) for m in metrics.reported_metrics()] + last
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
