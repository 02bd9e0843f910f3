"""The seen/unseen-class section of docs/results.md: one row per method and length (mean ± sd over
seeds) with the four settings of hashviz.unseen side by side, one table per ranking metric.

The section sits between its own markers, after the hand-written notes of the main table, so
regenerating either table keeps the other (hashviz.zoo_build.write_results keeps everything from
its notes marker on).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from hashviz import metrics
from hashviz.data import describe_protocol
from hashviz.atomic_files import write_text_atomically
from hashviz.seeds import group_by_seed, mean_sd_text
from hashviz.unseen import SETTINGS, SETTINGS_TEXT, unseen_classes_of
from hashviz.zoo import class_names_of, load_model_dir

TABLE_METRICS = 2   # mAP@all and mAP@MAP_K: the ranking metrics (the schema's first two)


def begin_marker(protocol: str) -> str:
    return f"<!-- begin generated: {protocol} (hashviz zoo results --protocol {protocol}) -->"


def end_marker(protocol: str) -> str:
    return f"<!-- end generated: {protocol} -->"


def _setting_stats(models, setting: str, key: str) -> tuple[float, float]:
    values = np.array([float((m.metrics.get("settings") or {}).get(setting, {}).get(key, math.nan))
                       for m in models], dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) >= 2 else math.nan


def render_settings(rows: list[Path], protocol: str, command: str, run_note: str = "") -> str:
    """Markdown of the section: reproduce line, protocol, held-out classes per seed, what each setting
    asks, then per ranking metric one table of method x setting (mean ± sd over seeds, n)."""
    models = [load_model_dir(p) for p in rows]
    held = {}
    for m in models:
        names = class_names_of(m)
        held[m.config.get("seed", 0)] = ", ".join(f"{c} ({names[c]})" for c in unseen_classes_of(m))
    lines = [begin_marker(protocol), "", f"## Seen and unseen classes ({protocol})", "",
             f"Reproduce: `{command}` (trains only what is missing). {run_note}", "",
             f"Protocol: {describe_protocol(protocol)}. Held-out classes by seed: "
             + "; ".join(f"seed {s}: {text}" for s, text in sorted(held.items())) + ". "
             "Model selection on the seen classes' validation split only, never the queries. " + SETTINGS_TEXT, ""]
    groups = group_by_seed(models)
    for metric in metrics.reported_metrics()[:TABLE_METRICS]:
        columns = ["method", "family", "bits", "n", *SETTINGS, "train s"]
        lines += [f"### {metric.label} in each setting", "", "| " + " | ".join(columns) + " |",
                  "|" + "---|" * len(columns)]
        for g in groups:
            seconds = [m.config.get("train_seconds", math.nan) for m in g.models]
            cells = [g.key.method, g.key.family, str(g.key.bits), str(len(g.models)),
                     *(mean_sd_text(*_setting_stats(g.models, s, metric.key), metric.fmt) for s in SETTINGS),
                     f"{sum(seconds) / len(seconds):.0f}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines + [end_marker(protocol)]) + "\n"


def write_section(out: Path, protocol: str, section: str) -> None:
    """Replace the protocol's section of `out` (between its markers), or append it; atomic."""
    text = out.read_text() if out.is_file() else ""
    begin, end = begin_marker(protocol), end_marker(protocol)
    if begin in text and end in text.split(begin, 1)[1]:
        head, rest = text.split(begin, 1)
        text = head + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    write_text_atomically(out, text)
