"""Shared fixtures: a tiny zoo trained for real on sklearn's digits (seconds, not minutes)."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small BLAS calls thrash on 2 shared cores
os.environ.setdefault("OMP_NUM_THREADS", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# name -> (method, bits, epochs); digits-small has 500 training images.
TINY_ZOO = {
    "dpsh-16": ("dpsh", 16, 6),
    "csq-16": ("csq", 16, 6),
    "dpq-16": ("dpq", 16, 6),
    "itq-16": ("itq", 16, 0),
    "lsh-16": ("lsh", 16, 0),
}


@pytest.fixture(scope="session", autouse=True)
def own_config_folder(tmp_path_factory):
    """hashviz's config folder (the trusted data roots an import records) for this run only: the
    suite never reads or writes the user's, and servers it starts inherit the setting."""
    os.environ["HASHVIZ_CONFIG"] = str(tmp_path_factory.mktemp("config"))


def build_tiny_zoo(root: Path, entries=None) -> Path:
    from hashviz.training import TrainSpec, build_model
    for name, (method, bits, epochs) in (entries or TINY_ZOO).items():
        build_model(TrainSpec(method, bits, dataset="digits", protocol="digits-small", epochs=epochs,
                              lr=3e-3, width=16, batch_size=64), root / name)
    return root


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory) -> Path:
    """A models root with real (tiny) deep, pq and shallow models on digits-small.
    $HASHVIZ_TINY_ZOO: a folder to build it in once and reuse (targeted runs on a busy machine);
    tests copy what they modify, the zoo itself is only read."""
    reuse = os.environ.get("HASHVIZ_TINY_ZOO")
    if reuse:
        root = Path(reuse)
        missing = {k: v for k, v in TINY_ZOO.items() if not (root / k / "config.json").is_file()}
        return build_tiny_zoo(root, missing) if missing else root
    return build_tiny_zoo(tmp_path_factory.mktemp("zoo"))
