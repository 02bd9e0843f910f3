"""The `hashviz` command. Errors a user can cause print one line and exit non-zero."""

from __future__ import annotations

import argparse
import json
import os
import runpy
import signal
import sys
from pathlib import Path

from hashviz.errors import HashvizError


def _tqdm_progress():
    """A progress(stage, done, total, info) callback drawing one tqdm bar per stage."""
    from tqdm import tqdm
    bars = {}

    def progress(stage, done, total, info):
        if stage == "epoch":
            bar = bars.get("train")
            if bar is not None:
                shown = {"val_map": f"{info['val_map']:.3f}"} if "val_map" in info else {}
                bar.set_postfix(epoch=info.get("epoch"), **shown)
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="step" if stage == "train" else "img",
                                     leave=False, file=sys.stderr)
        bar.total = total
        bar.update(done - bar.n)
        if "loss" in info:
            bar.set_postfix(epoch=info.get("epoch"), loss=f"{info['loss']:.4f}", refresh=False)
        if done >= total:
            bar.close()
            bars.pop(stage, None)
    return progress


# ---------------------------------------------------------------- commands

def cmd_methods(args) -> int:
    from hashviz.methods import list_methods
    rows = [("name", "family", "paper", "code")] + [(m.name, m.family, m.paper, m.code_type) for m in list_methods()]
    widths = [max(len(row[i]) for row in rows) + 2 for i in range(3)]    # each column as wide as its longest
    for row in rows:
        print("".join(cell.ljust(w) for cell, w in zip(row, widths)) + row[3])
    return 0


def _operator_dataset(name: str) -> None:
    """The dataset named on the command line: a folder there may be read; a known dataset is
    downloaded when missing (the only downloads hashviz makes)."""
    from hashviz.data.datasets import DOWNLOADS, download_dataset
    from hashviz.data.roots import allow_data_root
    if name.startswith("folder:"):
        allow_data_root(name[len("folder:"):])
    elif name in DOWNLOADS:
        download_dataset(name)


def cmd_data_download(args) -> int:
    from hashviz.data.datasets import download_dataset
    from hashviz.data.roots import data_home
    dataset = download_dataset(args.name)
    print(f"{args.name}: {len(dataset):,} images in {dataset.source or data_home()}")
    return 0


def cmd_train(args) -> int:
    from concurrent.futures import ThreadPoolExecutor
    # the dataset is read (gunzipped, which releases the GIL) while torch is imported: a lecture-mode
    # run is seconds long, and these two are its largest fixed costs
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(_operator_dataset, args.dataset)
        from hashviz.methods.regularizers import parse_reg
        from hashviz.training import TrainSpec, build_model
        reading.result()
    spec = TrainSpec(method=args.method, bits=args.bits, dataset=args.dataset, protocol=args.protocol,
                     seed=args.seed, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                     regularizers=parse_reg(args.reg or []), hyper=_parse_hyper(args.hyper or []),
                     backbone=args.backbone, pretrained_weights=args.pretrained_weights,
                     pretrained_mode=args.pretrained_mode, resolution=args.resolution,
                     max_train=args.max_train, quick=args.quick)
    out = build_model(spec, Path(args.out), progress=_tqdm_progress(), overwrite=args.overwrite)
    return cmd_eval(argparse.Namespace(model=str(out), json=False), header=f"saved {out}")


def _parse_hyper(items: list[str]) -> dict:
    hyper = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise HashvizError(f"--hyper expects name=value, got {item!r}")
        try:
            hyper[key] = json.loads(value)
        except json.JSONDecodeError:
            hyper[key] = value
    return hyper


def cmd_eval(args, header: str | None = None) -> int:
    from hashviz.code_space import code_space
    from hashviz.data import describe_protocol
    from hashviz.evaluation import metric_keys, model_metrics
    from hashviz.metrics import format_metric, reported_metrics
    from hashviz.protocol_card import protocol_card
    from hashviz.zoo import load_model_dir
    if getattr(args, "write", False):
        return _eval_write(Path(args.model))
    model = load_model_dir(Path(args.model))
    if getattr(args, "rule", None):
        return _eval_rule(model, args)
    if getattr(args, "top_k", None) is not None:
        raise HashvizError("--top-k sets the cut-off of a --rule: add --rule NAME (e.g. --rule deephash-pytorch)")
    metrics = model_metrics(model)
    protocol = model.config.get("metrics", {}).get("protocol") or describe_protocol(model.protocol)
    unseen = _unseen_settings(model, getattr(args, "unseen_classes", None))
    card = protocol_card(model)
    if args.json:
        print(json.dumps({**{k: metrics.get(k) for k in metric_keys()}, "protocol": protocol,
                          "protocol_card": card.as_dict(),
                          "bits": model.bits, "method": model.method,
                          **({"unseen_classes": list(unseen[0]), "settings": unseen[1]} if unseen else {})}))
        return 0
    if header:
        print(header)
    print(f"{model.name}: {model.method} ({model.family}), {model.bits} bits, {model.code_type} codes")
    print(f"protocol: {protocol}")
    print(f"ranking: {code_space(model).ranking_text}, ties by database index; a query with no relevant item "
          "in the top k scores AP 0")
    for metric in reported_metrics():
        print(f"  {metric.label:<18} {format_metric(metric, metrics.get(metric.key)):>6}  {metric.definition}")
    for k, value in metrics["precision_at_k"].items():
        print(f"  {f'P@{k}':<18} {value:>6.3f}  share of relevant items in the top {k}")
    print("protocol card:\n" + card.text())
    if unseen:
        from hashviz.unseen import settings_lines, unseen_classes_of
        print("\n".join(settings_lines(model, *unseen, recorded=unseen[0] == unseen_classes_of(model))))
    return 0


def _eval_write(path: Path) -> int:
    """`hashviz eval DIR --write` (a model directory) or `hashviz eval ROOT --write` (every model under it)."""
    from hashviz.metric_refresh import write_metrics, write_metrics_under
    from hashviz.metrics import metric_of
    from hashviz.zoo import CONFIG
    if (path / CONFIG).is_file():
        metrics = write_metrics(path)
        headline = metric_of("map_all")
        print(f"{path}: metrics recomputed and written ({headline.label} {metrics[headline.key]:.4f})")
        return 0
    results = write_metrics_under(path)
    for name, problem in results:
        print(f"{name}: " + ("metrics recomputed and written" if problem is None else f"skipped ({problem})"))
    if not results:
        raise HashvizError(f"{path} is neither a model directory nor a folder holding any")
    return 0


def _unseen_settings(model, named: str | None):
    """(held-out classes, {setting: metrics}) for a model trained with classes held out or when the
    user names them (--unseen-classes 3,7 or class names); None otherwise."""
    from hashviz.unseen import model_settings, parse_classes, unseen_classes_of
    if named is None and not unseen_classes_of(model):
        return None
    from hashviz.zoo import class_names_of
    return model_settings(model, None if named is None else parse_classes(named, class_names_of(model)))


def _eval_rule(model, args) -> int:
    """`hashviz eval DIR --rule NAME [--top-k K]`: the model's mAP under a published rule (the metric lens)."""
    from dataclasses import asdict, replace
    from hashviz.metric_rules import preset, score_model
    chosen = preset(args.rule)
    rule = chosen.rule if args.top_k is None else replace(chosen.rule, cutoff=args.top_k, slice_drops_last=False)
    result = score_model(model, rule)
    if args.json:
        print(json.dumps({"map": result.value, "queries": result.queries, "counted": result.counted,
                          "rule": {"name": chosen.key, "label": chosen.label, **asdict(rule.checked()),
                                   "definition": rule.text(), "citation": chosen.citation},
                          "bits": model.bits, "method": model.method}))
        return 0
    print(f"{model.name}: {chosen.label}: mAP {result.summary()}")
    print(f"rule: {rule.text()}")
    print(f"source: {chosen.citation}")
    return 0


def cmd_check_lists(args) -> int:
    from hashviz.list_checks import check_lists
    report = check_lists(args.files, args.image_root, args.class_names)
    print("\n".join(report.summary()))
    return 1 if report.has_problems else 0


def cmd_import_codes(args) -> int:
    from hashviz.importing import import_codes
    from hashviz.list_checks import ListProblems
    try:
        out = import_codes(args.database_codes, args.database_labels, args.query_codes, args.query_labels,
                           Path(args.out), deephash_dir=args.deephash_dir, database_list=args.database_list,
                           query_list=args.query_list, image_root=args.image_root, class_names=args.class_names,
                           method=args.method, family=args.family, warn=lambda line: print(line, file=sys.stderr))
    except ListProblems as exc:       # the whole summary first, then the one error line
        print("\n".join(exc.report.summary()), file=sys.stderr)
        raise
    from hashviz.zoo import load_model_dir
    print(f"imported codes into {out}")
    if (root := load_model_dir(out).config.get("images", {}).get("root")) is not None:
        print(f"images: {root} is a trusted data root now; the app shows them (hashviz data-roots list)")
    return cmd_eval(argparse.Namespace(model=str(out), json=False))


def cmd_data_roots(args) -> int:
    from hashviz.data.roots import DATA_ROOTS_ENV, data_home
    from hashviz.data.trusted_roots import trust_root, trusted_roots, trusted_roots_file, untrust_root
    if args.action != "list" and args.folder is None:
        raise HashvizError(f"hashviz data-roots {args.action} needs a folder: hashviz data-roots {args.action} DIR")
    if args.action == "add":
        if not Path(args.folder).expanduser().is_dir():
            raise HashvizError(f"{args.folder} is not a folder")
        print(f"trusted: {trust_root(args.folder)}")
    elif args.action == "remove":
        print(f"no longer trusted: {untrust_root(args.folder)}")
    else:
        print(f"trusted roots ({trusted_roots_file()}):")
        print("\n".join(f"  {root}" for root in trusted_roots()) or "  (none)")
        print(f"${DATA_ROOTS_ENV}: {os.environ.get(DATA_ROOTS_ENV) or '(unset)'}")
        print(f"data home: {data_home()}")
    return 0


def cmd_zoo_build(args) -> int:
    from hashviz.zoo_build import build_starter_zoo
    built = build_starter_zoo(Path(args.root), progress=_tqdm_progress(), log=print,
                              only=args.only, projections=not args.no_projections)
    print(f"starter zoo in {args.root}: {len(built)} model(s) built")
    return 0


def cmd_zoo_results(args) -> int:
    from hashviz.zoo_build import results_table
    results_table(Path(args.root), Path(args.out), bits=tuple(args.bits), methods=args.methods,
                  seeds=args.seeds, progress=_tqdm_progress(), log=print, ablation=not args.no_ablation,
                  protocol=args.protocol, train=not args.render_only)
    return 0


def cmd_zoo_verdicts(args) -> int:
    from hashviz.leaderboard import conclusion_lines
    from hashviz.zoo import discover
    if not Path(args.root).is_dir():
        raise HashvizError(f"models root {args.root} is not a folder")
    print("\n".join(conclusion_lines(discover(Path(args.root))[0])))
    return 0


def bench_names() -> list[str]:
    from hashviz.resources import bench_dir
    return sorted(p.stem for p in bench_dir().glob("*.py") if not p.name.startswith("_"))


def cmd_bench(args) -> int:
    from hashviz.resources import bench_dir
    names = bench_names()
    if args.name not in names:     # a name, never a path: only the scripts in bench/ run
        raise HashvizError(f"unknown benchmark {args.name!r}; choose one of {', '.join(names)}")
    script = bench_dir() / f"{args.name}.py"
    sys.argv = [str(script), *args.rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def serve_defaults(args):
    """`hashviz serve` args with the upload caps a demo or a full app takes when none is given
    (hv.launch_app parses its args here too)."""
    if args.max_upload_mb is None:
        args.max_upload_mb = 4 if args.demo else 10
    if args.max_upload_mp is None:   # 16 MP bounds one upload's decoding memory (bench/upload_memory.py)
        args.max_upload_mp = 16
    return args


def cmd_serve(args) -> int:
    from hashviz.deployment import serve
    serve(serve_defaults(args))        # returns only by an error: the process becomes the Streamlit server
    return 0


def cmd_index_push(args) -> int:
    from hashviz.code_space import code_space
    from hashviz.search.milvus import TOKEN_ENV, collection_name_for, push_codes
    from hashviz.zoo import load_model_dir
    from tqdm import tqdm
    model = load_model_dir(Path(args.model))
    if not code_space(model).remote_index:
        raise HashvizError("only binary codes can be pushed to Milvus")
    name = args.collection or collection_name_for(model.path, model.database_codes)
    with tqdm(total=len(model.database_codes), desc="push", unit="code", file=sys.stderr) as bar:
        # the operator typed this uri: the token of their environment goes to it
        push_codes(model.database_codes, args.uri, name, token=os.environ.get(TOKEN_ENV, ""),
                   progress=lambda done, total: bar.update(done - bar.n))
    print(f"pushed {len(model.database_codes)} codes of {model.name} to {args.uri} collection {name}")
    return 0


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hashviz", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("methods", help="list methods: name, family, paper").set_defaults(func=cmd_methods)

    p = sub.add_parser("train", help="train a model and write a model directory")
    p.add_argument("--method", required=True)
    p.add_argument("--bits", type=int, required=True)
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--protocol", default=None, help="default: the dataset's (fmnist-1k for fashion-mnist)")
    p.add_argument("--epochs", type=int, default=None, help="default: the method's recipe")
    p.add_argument("--lr", type=float, default=None, help="default: the method's recipe")
    p.add_argument("--batch-size", type=int, default=None, help="default: the method's recipe")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reg", action="append", metavar="NAME=WEIGHT",
                   help="regulariser: balance, decorrelation or quantization (repeatable)")
    p.add_argument("--hyper", action="append", metavar="NAME=VALUE", help="method hyper-parameter")
    p.add_argument("--backbone", default=None,
                   help="small-cnn, cifar-cnn, tiny-cnn (lecture mode's), resnet18 or efficientnet-lite0 "
                        "(ImageNet-pretrained; default: by image shape)")
    p.add_argument("--pretrained-weights", default=None, metavar="torchvision|FILE|none",
                   help="resnet18's starting weights: torchvision's ImageNet ones (default; downloaded once), "
                        "a safetensors file of torchvision resnet18's state dict, or none (from scratch)")
    p.add_argument("--pretrained-mode", default=None, choices=["frozen", "finetune"],
                   help="efficientnet-lite0: frozen (features computed once per dataset and resolution, cached; a "
                        "hash head learns on them; default) or finetune (the whole network trains, as in the papers)")
    p.add_argument("--resolution", type=int, default=None,
                   help="efficientnet-lite0: images are resized to this side in pixels (32..224, a multiple of 32; default 64)")
    p.add_argument("--max-train", type=int, default=None, help="cap on training images (quick runs)")
    p.add_argument("--quick", action="store_true",
                   help="lecture mode: the method's quick recipe (classification family; the tiny CNN, under half the "
                        "epochs: seconds instead of minutes, a lower mAP; docs/recipes.md)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_train)

    data = sub.add_parser("data", help="datasets").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("download", help="fetch a dataset into $HASHVIZ_DATA (the app never downloads)")
    p.add_argument("name", choices=["fashion-mnist", "mnist", "cifar10"])
    p.set_defaults(func=cmd_data_download)

    p = sub.add_parser("data-roots", help="the folders whose images the app may show: list, add DIR, remove DIR",
                       description="Trusted image roots, kept in the user's config folder ($HASHVIZ_CONFIG, else "
                                   "$XDG_CONFIG_HOME/hashviz): import-codes adds its image root; the app also "
                                   "reads $HASHVIZ_DATA_ROOTS and the data home.")
    p.add_argument("action", nargs="?", choices=["list", "add", "remove"], default="list")
    p.add_argument("folder", nargs="?", default=None, metavar="DIR")
    p.set_defaults(func=cmd_data_roots)

    p = sub.add_parser("eval", help="print a model's metrics with the protocol")
    p.add_argument("model")
    p.add_argument("--json", action="store_true")
    p.add_argument("--rule", default=None, metavar="NAME",
                   help="score under a published rule: hashviz, deephash-pytorch, hashnet, 11-point")
    p.add_argument("--top-k", type=int, default=None, metavar="K", help="with --rule: the cut-off (top K items)")
    p.add_argument("--write", action="store_true",
                   help="recompute the metrics from the codes and store them in config.json (MODEL may be a "
                        "models root: every model under it)")
    p.add_argument("--unseen-classes", default=None, metavar="IDS",
                   help="score seen@seen, seen@all, unseen@unseen, unseen@all with these classes (ids or names, "
                        "comma-separated) taken as held out; models trained with held-out classes print them anyway")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("check-lists", help="check DeepHash-pytorch list files (exit 1 when problems are found)",
                       description="One pass over '<image path> <0/1 labels>' list files: counts per problem "
                                   "kind with the first line numbers (docs/reliability.md).")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--image-root", default=None, metavar="DIR",
                   help="relative list paths start here (default: each list's folder)")
    p.add_argument("--class-names", default=None, metavar="FILE", help="one class name per line")
    p.set_defaults(func=cmd_check_lists)

    p = sub.add_parser("import-codes", help="turn exported codes (e.g. DeepHash-pytorch) into a model dir",
                       description="Codes from four .npy arrays or a DeepHash-pytorch save folder; images "
                                   "and labels from DeepHash-pytorch list files (referenced, never copied).")
    for flag in ("--database-codes", "--database-labels", "--query-codes", "--query-labels"):
        p.add_argument(flag, default=None, help="a .npy file (overrides what --deephash-dir finds)")
    p.add_argument("--deephash-dir", default=None, metavar="DIR",
                   help="DeepHash-pytorch save folder: <dataset>-<bits>-<mAP>-trn_binary.npy etc., highest mAP")
    p.add_argument("--database-list", default=None, metavar="FILE", help="'<image path> <0/1 labels>' per database row")
    p.add_argument("--query-list", default=None, metavar="FILE", help="the same for the query rows")
    p.add_argument("--image-root", default=None, metavar="DIR",
                   help="relative list paths start here (default: the list file's folder)")
    p.add_argument("--class-names", default=None, metavar="FILE", help="one class name per line")
    p.add_argument("--out", required=True)
    p.add_argument("--method", default="imported")
    p.add_argument("--family", default="imported")
    p.set_defaults(func=cmd_import_codes)

    zoo = sub.add_parser("zoo", help="the starter zoo and the results table").add_subparsers(
        dest="zoo_command", required=True)
    p = zoo.add_parser("build", help="build the starter zoo (skips models already present)")
    p.add_argument("--root", default="models")
    p.add_argument("--only", nargs="*", default=None, help="build only these zoo entries")
    p.add_argument("--no-projections", action="store_true", help="skip precomputing UMAP maps")
    p.set_defaults(func=cmd_zoo_build)
    p = zoo.add_parser("results", help="train every method at several lengths; write docs/results.md")
    p.add_argument("--root", default="results-models")
    p.add_argument("--out", default="docs/results.md")
    p.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64])
    p.add_argument("--methods", nargs="*", default=None)
    p.add_argument("--seeds", type=int, default=3,
                   help="seeds of the 32-bit rows and the ablations (other lengths: seed 0); default 3")
    p.add_argument("--no-ablation", action="store_true")
    p.add_argument("--protocol", default=None, help="train on this protocol (default: the dataset's); one that "
                   "holds classes out (fmnist-unseen2) writes its seen/unseen section of --out, no ablation")
    p.add_argument("--render-only", action="store_true",
                   help="train nothing: write the tables from the models present and name the missing ones")
    p.set_defaults(func=cmd_zoo_results)
    p = zoo.add_parser("verdicts", help="judge the survey's conclusions and the ablations on a models root "
                                        "(gap, 95% interval, n; the rule of docs/metrics.md)")
    p.add_argument("--root", default="models")
    p.set_defaults(func=cmd_zoo_verdicts)

    p = sub.add_parser("bench", help="run a benchmark script from bench/ (search, metrics, ...)")
    p.add_argument("name")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("serve", help="serve the app (Streamlit); --demo for a public, read-only demo")
    p.add_argument("--demo", action="store_true",
                   help="read-only demo: fixed models root, no Train page or zoo building, server-set search "
                        "backend, smaller upload caps, writes only to the cache folder")
    p.add_argument("--models", default="models", help="the models root (default models/)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1",
                   help="interface to bind (default loopback; put a reverse proxy in front, docs/deploy.md); "
                        "another address needs --demo or --public-full-app")
    p.add_argument("--public-full-app", action="store_true",
                   help="allow a non-loopback --address without --demo: the full app, Train page included")
    p.add_argument("--default-model", default=None, help="the model shown first (default: best mAP@all)")
    p.add_argument("--backend", choices=["faiss", "milvus"], default="faiss",
                   help="search backend in demo mode; milvus: $HASHVIZ_MILVUS_URI, else a Milvus Lite file in "
                        "the cache folder")
    p.add_argument("--cache", default=None, help="the folder the app writes to (default <models>/.cache)")
    p.add_argument("--max-upload-mb", type=float, default=None, help="upload cap in MB (default 4 demo, 10)")
    p.add_argument("--max-upload-mp", type=float, default=None, help="upload cap in megapixels (default 16)")
    p.set_defaults(func=cmd_serve)

    index = sub.add_parser("index", help="external search backends").add_subparsers(
        dest="index_command", required=True)
    p = index.add_parser("push", help="load a model's database codes into Milvus")
    p.add_argument("model")
    p.add_argument("--uri", required=True, help="a Milvus server (http://host:19530) or a Milvus Lite .db file")
    p.add_argument("--collection", default=None)
    p.set_defaults(func=cmd_index_push)
    return parser


def _close_bars() -> None:
    """Clear the progress bars still drawn, so that an error gets a line of its own."""
    if "tqdm" in sys.modules:
        from tqdm import tqdm
        for bar in list(getattr(tqdm, "_instances", ())):
            bar.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HashvizError as exc:
        _close_bars()
        print(f"hashviz: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not break the message
        try:
            _close_bars()
            print("hashviz: interrupted; nothing half-written was kept", file=sys.stderr)
        finally:
            signal.signal(signal.SIGINT, previous)
        return 130


if __name__ == "__main__":
    sys.exit(main())
