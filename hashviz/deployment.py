"""How this app is served: `hashviz serve [--demo]` turns its flags into the Streamlit process's
environment (HASHVIZ_* variables), then replaces itself with the Streamlit server. The app reads
them on every script run. A browser cannot change a process's environment, so what a demo locks
(models root, search backend and Milvus uri, upload caps, the cache folder) stays locked.

Demo mode (HASHVIZ_DEMO=1): one read-only models root for every session, no Train page and no
starter-zoo button, the search backend from the server only, smaller upload caps, and everything
the app writes (UMAP maps, a Milvus Lite file) goes to one cache folder.
"""

from __future__ import annotations

import ipaddress
import math
import os
import sys
from pathlib import Path

from hashviz.errors import HashvizError
# the settings live below everything that serves or discovers models; the app imports them from here too
from hashviz.settings import ENV, MB, MILVUS, PROJECTION_CACHE_ENV, Deployment, current_deployment  # noqa: F401


def first_model(models, default_name: str | None = None):
    """The model a visitor sees first: `default_name` when it is one of `models`, else the best
    stored mAP@all (a model without the metric counts as lowest; ties keep the list order). A demo
    never relies on the stored number: `hashviz serve --demo` pins a verified default at start."""
    by_name = {m.name: m for m in models}
    if default_name in by_name:
        return by_name[default_name]
    scores = [m.metrics.get("map_all") for m in models]
    scores = [s if isinstance(s, (int, float)) else float("-inf") for s in scores]
    return models[scores.index(max(scores))] if models else None


def verified_first_model(models, log=print):
    """The best model by mAP@all whose stored mAP@all is what its codes give (recomputed here, best
    stored first, until one agrees): config.json is untrusted, so a crafted directory claiming
    mAP 1.0 cannot become every visitor's first model. Those that disagree are named in `log`."""
    from hashviz.evaluation import recomputed_metrics
    ranked = sorted(models, key=lambda m: -_stored_map(m))
    for model in ranked:
        try:
            stored, actual = _stored_map(model), recomputed_metrics(model)["map_all"]
        except HashvizError as exc:
            log(f"hashviz: {model.name} cannot be evaluated ({exc}); not the demo's first model")
            continue
        if abs(stored - actual) <= 1e-6:
            return model
        log(f"hashviz: {model.name} stores mAP@all {stored:.4f} but its codes give {actual:.4f}; not the demo's "
            "first model")
    return None


def _stored_map(model) -> float:
    score = model.metrics.get("map_all")
    return float(score) if isinstance(score, (int, float)) and math.isfinite(score) else float("-inf")


# ---------------------------------------------------------------- hashviz serve

def is_loopback(address: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False          # a host name: it may resolve to any interface


def upload_cap(flag: str, value: float, unit: int) -> int:
    """`value` units as a whole positive count (bytes or pixels); anything else is refused, never
    replaced by another cap behind the operator's back."""
    if not (math.isfinite(value) and value > 0) or int(value * unit) < 1:
        raise HashvizError(f"{flag} must be a positive number, got {value:g}")
    return int(value * unit)


def serve_plan(args) -> tuple[list[str], dict[str, str]]:
    """(argv of the Streamlit server, its environment) for `hashviz serve` args; checks them first."""
    from hashviz.resources import app_script
    from hashviz.zoo import discover
    app = app_script()
    root = Path(args.models).expanduser().resolve()
    if not root.is_dir():
        raise HashvizError(f"models root {args.models} is not a folder: pass --models DIR, or build the "
                           f"starter zoo there first (hashviz zoo build --root {args.models})")
    models = discover(root)[0]                   # read once: the default-model check and the demo's pick
    if args.default_model and args.default_model not in {m.name for m in models}:
        raise HashvizError(f"--default-model {args.default_model!r} is not a valid model in {root}")
    if not 1 <= args.port <= 65535:
        raise HashvizError(f"--port must be 1..65535, got {args.port}")
    if not (args.demo or getattr(args, "public_full_app", False) or is_loopback(args.address)):
        raise HashvizError(f"--address {args.address} is reachable from other machines: add --demo for a public "
                           "read-only demo, or --public-full-app to expose the full app (Train page, models-root "
                           "and Milvus boxes) on purpose")
    upload_bytes = upload_cap("--max-upload-mb", args.max_upload_mb, MB)
    upload_pixels = upload_cap("--max-upload-mp", args.max_upload_mp, 1_000_000)
    default_model = args.default_model
    if args.demo and default_model is None:      # pinned now: a directory added later cannot take over
        chosen = verified_first_model(models, log=lambda line: print(line, file=sys.stderr))
        default_model = chosen.name if chosen is not None else None
    settings = Deployment(demo=args.demo, models_root=str(root), default_model=default_model,
                          backend=args.backend, milvus_uri=os.environ.get(ENV["milvus_uri"]) or None,
                          cache_dir=str(Path(args.cache).expanduser().resolve()) if args.cache else None,
                          upload_max_bytes=upload_bytes, upload_max_pixels=upload_pixels)
    env = {k: v for k, v in os.environ.items() if k not in ENV.values() and k != PROJECTION_CACHE_ENV}
    env.update(settings.environment())
    upload_mb = max(1, -(-settings.upload_max_bytes // MB))      # Streamlit's own cap, whole MB
    argv = [sys.executable, "-m", "streamlit", "run", str(app),
            "--server.address", args.address, "--server.port", str(args.port), "--server.headless", "true",
            "--server.maxUploadSize", str(upload_mb), "--server.fileWatcherType", "none",
            "--server.runOnSave", "false", "--browser.gatherUsageStats", "false",
            "--client.showErrorDetails", "none", "--client.toolbarMode", "minimal",
            "--runner.postScriptGC", "false"]       # see .streamlit/config.toml
    return argv, env


def serve(args) -> None:
    """Replace this process with the Streamlit server (a signal to `hashviz serve` reaches it)."""
    argv, env = serve_plan(args)
    cache = Path(env[PROJECTION_CACHE_ENV]).parent
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HashvizError(f"cannot create the cache folder {cache} ({exc.strerror}): pass --cache DIR") from None
    demo = f" in demo mode (first model: {env.get(ENV['default_model'], 'none')})" if args.demo else ""
    print(f"hashviz: serving {env[ENV['models_root']]}{demo} on http://{args.address}:{args.port} "
          f"(cache: {cache})", flush=True)
    os.execvpe(argv[0], argv, env)
