"""The Python API's two speed goals: hv.from_network over all 70,000 Fashion-MNIST images with a
network of about a million parameters (goal: under 60 s on 2 cores), and hv.launch_app's time to a
URL that answers its health check (goal: under 15 s).

    python bench/api.py [--batch-size 256] [--threads N]

Prints the network's parameter count, the encoding alone (database then queries, progress bars
off), the whole from_network call (encoding, the import checks, the metrics pass over 10,000
queries x 60,000 database items, the network's export and the model directory), and launch_app's
time to URL for that in-memory model (saved to a temporary root first) and for a models root.
Results go to docs/python-api.md's figures by hand, with the CPU named.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch


def million_parameter_net(bits: int = 64) -> torch.nn.Module:
    """Two 3x3 convolutions and two linear layers: 0.98 M parameters, random weights."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 300), torch.nn.ReLU(), torch.nn.Linear(300, bits))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import hashviz as hv
    from hashviz.data import load_dataset
    from hashviz.network_encoding import encode_images

    data = load_dataset("fashion-mnist")
    train, test = slice(0, 60000), slice(60000, 70000)
    net = million_parameter_net()
    params = sum(p.numel() for p in net.parameters())
    print(f"CPU: {cpu_name()}; load average {os.getloadavg()[0]:.1f}; torch threads: {torch.get_num_threads()}; torch {torch.__version__}")
    print(f"network: {params:,} parameters; images: {len(data.images):,} Fashion-MNIST (60,000 database, 10,000 queries)")

    start, cpu = time.perf_counter(), time.process_time()
    for part in (train, test):
        encode_images(net.eval(), data.images[part], data.labels[part], args.batch_size, None)
    encode_s, encode_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"encoding alone: {encode_s:.1f} s wall ({len(data.images) / encode_s:,.0f} images/s), {encode_cpu:.1f} s CPU "
          f"(all threads; on a busy machine the wall time also holds the waits for a core)")

    start, cpu = time.perf_counter(), time.process_time()
    model = hv.from_network(net, data.images[train], data.images[test], database_labels=data.labels[train],
                            query_labels=data.labels[test], batch_size=args.batch_size, name="bench-net",
                            class_names=data.class_names)
    total_s, total_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"hv.from_network: {total_s:.1f} s wall in all, {total_cpu:.1f} s CPU (goal < 60 s on 2 cores); mAP@all {model.metrics['map_all']:.3f}, "
          f"network stored: {model.has_weights}")

    start = time.perf_counter()
    with hv.launch_app([model]) as app:
        in_memory_s = time.perf_counter() - start
    root = Path(tempfile.mkdtemp(prefix="hashviz-bench-"))
    model.save(root / model.name)
    start = time.perf_counter()
    with hv.launch_app(root) as app:
        root_s = time.perf_counter() - start
        url = app.url
    print(f"hv.launch_app time to URL: {in_memory_s:.1f} s for the in-memory model (saved to a temporary root "
          f"first), {root_s:.1f} s for a models root (goal < 15 s); e.g. {url}")


if __name__ == "__main__":
    main()
