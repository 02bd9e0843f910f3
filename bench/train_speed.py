"""Where training and encoding time goes: 32-bit models on fmnist-1k, split into data/augmentation,
forward, backward, optimizer and validation, in fp32 and (where the CPU has bf16 units) bf16.

    python bench/train_speed.py                                # the four methods, full recipes
    python bench/train_speed.py --epochs 2 --methods greedyhash   # quick: 2 epochs, projected
    python bench/train_speed.py --no-bf16-units                # run as a CPU without bf16 units

--no-bf16-units restarts the bench with ONEDNN_MAX_CPU_ISA=AVX2 and ATEN_CPU_CAPABILITY=avx2 (no
AVX512 or AMX kernels, as on an AVX2-only CPU) and fp32. With --epochs below the recipe's, train
times are projected to the recipe (loop phases x recipe/run epochs, validation per validated
epoch). Encoding = the 69,000-image database and the 1,000 queries. Each figure is the fastest of
--repeats runs (the machine may be shared); the load average is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

PHASES = ("data", "forward", "backward", "optimizer", "validation")
GOALS = {"train_s": 75.0, "encode_s": 6.0, "wall_s": 90.0}  # issue 20, 2 cores without bf16 units
NO_BF16_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "HASHVIZ_PRECISION": "fp32"}


def cpu_description() -> str:
    import torch
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                platform.processor() or "unknown CPU")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    shown = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16") if f in flags]
    limits = " ".join(f"{k}={os.environ[k]}" for k in NO_BF16_ENV if k in os.environ)
    return (f"{name}; {os.cpu_count()} cores; flags: {' '.join(shown) or 'none of interest'}; "
            f"torch {torch.__version__} kernels {torch.backends.cpu.get_cpu_capability()}; "
            f"{torch.get_num_threads()} threads" + (f"; limited by {limits}" if limits else ""))


def validated_epochs(epochs: int) -> int:
    from hashviz.training import is_validation_epoch
    return sum(is_validation_epoch(e, epochs) for e in range(1, epochs + 1))


def measure(method: str, precision: str, epochs: int | None, layout: int | None = None,
            width: int | None = None) -> dict:
    """One build_model run (train, encode, evaluate); phase seconds projected to the recipe."""
    from hashviz.training import TrainSpec, build_model
    recipe_epochs = TrainSpec(method, 32).resolved().epochs
    run_epochs = epochs or recipe_epochs
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        spec = TrainSpec(method, 32, epochs=run_epochs, precision=precision, backbone_layout=layout, width=width)
        path = build_model(spec, Path(tmp) / "m")
        wall = time.perf_counter() - start
        config = json.loads((path / "config.json").read_text())
    phases = config["train_phase_seconds"]
    loop = run_epochs and recipe_epochs / run_epochs
    val = validated_epochs(run_epochs) and validated_epochs(recipe_epochs) / validated_epochs(run_epochs)
    projected = {k: phases.get(k, 0.0) * (val if k == "validation" else loop) for k in PHASES}
    train_s = config["train_seconds"] * loop if run_epochs == recipe_epochs else sum(projected.values())
    other = wall - config["train_seconds"] - config["encode_seconds"]  # load data, evaluate, save
    return {"method": method, "precision": config["spec"]["precision"], "epochs": run_epochs,
            "recipe_epochs": recipe_epochs, "batch": config["spec"]["batch_size"], **projected,
            "train_s": train_s, "encode_s": config["encode_seconds"],
            "wall_s": train_s + config["encode_seconds"] + other,
            "map_all": config["metrics"]["map_all"] if run_epochs == recipe_epochs else None,
            "load": round(load, 1)}


def fastest(method: str, precision: str, epochs: int | None, repeats: int, layout=None, width=None) -> dict:
    runs = [measure(method, precision, epochs, layout, width) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["train_s"])
    best["encode_s"] = min(r["encode_s"] for r in runs)
    return best


def table(rows: list[dict], baseline: list[dict] | None) -> str:
    before = {(r["method"], r["precision"]): r for r in baseline or []}
    head = ["method", "prec", "ep", "batch", *PHASES, "train s", "encode s", "wall s", "mAP@all", "load"]
    if before:
        head += ["train after/before", "encode after/before"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["method"], r["precision"], f"{r['epochs']}/{r['recipe_epochs']}", str(r["batch"]),
                 *(f"{r[k]:.1f}" for k in PHASES), f"{r['train_s']:.1f}", f"{r['encode_s']:.1f}",
                 f"{r['wall_s']:.1f}", "-" if r["map_all"] is None else f"{r['map_all']:.4f}", str(r["load"])]
        if before:
            b = before.get((r["method"], r["precision"]))
            cells += [f"{r['train_s'] / b['train_s']:.2f}" if b else "-",
                      f"{r['encode_s'] / b['encode_s']:.2f}" if b else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratios(rows: list[dict]) -> list[str]:
    """fp32 / bf16 side by side, per method."""
    by = {(r["method"], r["precision"]): r for r in rows}
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        a, b = by.get((method, "fp32")), by.get((method, "bf16"))
        if a and b:
            out.append(f"{method}: fp32/bf16 train {a['train_s']:.1f}/{b['train_s']:.1f} s = "
                       f"{a['train_s'] / b['train_s']:.2f}x, encode {a['encode_s']:.1f}/{b['encode_s']:.1f} s")
    return out


def goals(rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        if r["precision"] != "fp32":
            continue
        checks = [f"{k.removesuffix('_s')} {r[k]:.1f} s <= {limit:.0f}: {'yes' if r[k] <= limit else 'NO'}"
                  for k, limit in GOALS.items()]
        out.append(f"{r['method']} (fp32): " + "; ".join(checks))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["greedyhash", "csq", "dpsh", "dpq"])
    parser.add_argument("--epochs", type=int, default=None, help="default: each method's recipe")
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=None,
                        help="default: fp32, and bf16 where the CPU has bf16 units")
    parser.add_argument("--repeats", type=int, default=1, help="keep the fastest of this many runs")
    parser.add_argument("--layout", type=int, default=None, help="backbone layout (default: nets'; 3: lean)")
    parser.add_argument("--width", type=int, default=None, help="backbone width (default: nets')")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--no-bf16-units", action="store_true", help="run as an AVX2 CPU without bf16 units")
    parser.add_argument("--save", default=None, help="write the rows as JSON (a baseline for --compare)")
    parser.add_argument("--compare", default=None, help="a --save file: print after/before ratios")
    args = parser.parse_args(argv)
    if args.no_bf16_units and any(os.environ.get(k) != v for k, v in NO_BF16_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **NO_BF16_ENV})
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from hashviz.training import bf16_is_fast
    precisions = args.precision or (["fp32", "bf16"] if bf16_is_fast("cpu") else ["fp32"])
    print(cpu_description(), flush=True)
    rows = []
    for method in args.methods:
        for precision in precisions:
            rows.append(fastest(method, precision, args.epochs, args.repeats, args.layout, args.width))
            print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in rows[-1].items()}),
                  flush=True)
    baseline = json.loads(Path(args.compare).read_text())["rows"] if args.compare else None
    print(table(rows, baseline))
    print("\n".join(ratios(rows) + goals(rows)))
    if args.save:
        Path(args.save).write_text(json.dumps({"cpu": cpu_description(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
