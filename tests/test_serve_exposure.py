"""`hashviz serve` flags an operator can get wrong: a non-loopback address without --demo, upload
caps that are not positive finite numbers; and what a demo's visitors never learn (the server's data
roots)."""

from __future__ import annotations

import pytest

from hashviz import cli
from hashviz.deployment import Deployment, serve_plan
from hashviz.errors import HashvizError


def refusal(capsys, root, *argv) -> str:
    """The one stderr line of a refused `hashviz serve` (exit 2, no traceback)."""
    assert cli.main(["serve", "--models", str(root), *map(str, argv)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("hashviz: error: ") and "Traceback" not in err, err
    return err


def plan(root, *argv):
    args = cli.build_parser().parse_args(["serve", "--models", str(root), *map(str, argv)])
    args.max_upload_mb = 10 if args.max_upload_mb is None else args.max_upload_mb
    args.max_upload_mp = 16 if args.max_upload_mp is None else args.max_upload_mp
    return serve_plan(args)


def bound_address(argv) -> str:
    return argv[argv.index("--server.address") + 1]


@pytest.mark.parametrize("address", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_a_public_address_without_demo_is_refused_naming_demo(tmp_path, capsys, address):
    err = refusal(capsys, tmp_path, "--address", address)
    assert f"--address {address} is reachable from other machines" in err and "--demo" in err
    assert "--public-full-app" in err


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_addresses_need_no_flag(tmp_path, address):
    assert bound_address(plan(tmp_path, "--address", address)[0]) == address


def test_demo_or_the_explicit_flag_may_bind_every_interface(tmp_path):
    argv, env = plan(tmp_path, "--address", "0.0.0.0", "--demo")
    assert bound_address(argv) == "0.0.0.0" and Deployment.from_env(env).demo
    argv, env = plan(tmp_path, "--address", "0.0.0.0", "--public-full-app")
    assert bound_address(argv) == "0.0.0.0" and not Deployment.from_env(env).demo


@pytest.mark.parametrize("flag", ["--max-upload-mb", "--max-upload-mp"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-3", "1e-12"])
def test_upload_caps_that_are_not_positive_finite_are_refused_in_one_line(tmp_path, capsys, flag, value):
    err = refusal(capsys, tmp_path, f"{flag}={value}")   # = : argparse reads -3 as a flag otherwise
    assert f"{flag} must be a positive number, got " in err


def test_a_positive_upload_cap_is_the_operators_exactly(tmp_path):
    argv, env = plan(tmp_path, "--max-upload-mb", "2.5", "--max-upload-mp", "0.5")
    server = Deployment.from_env(env)
    assert (server.upload_max_bytes, server.upload_max_pixels) == (int(2.5 * 2**20), 500_000)
    assert argv[argv.index("--server.maxUploadSize") + 1] == "3"       # Streamlit's own cap, whole MB up


def test_outside_the_data_roots_names_the_roots_to_the_operator_only(tmp_path, monkeypatch):
    from hashviz.data.roots import inside_data_roots
    monkeypatch.setenv("HASHVIZ_DATA", str(tmp_path / "secret-home"))
    monkeypatch.setenv("HASHVIZ_DATA_ROOTS", str(tmp_path / "secret-root"))
    monkeypatch.delenv("HASHVIZ_DEMO", raising=False)
    with pytest.raises(HashvizError, match="outside the data roots") as operator:
        inside_data_roots(tmp_path / "elsewhere")
    assert "secret-home" in str(operator.value) and "secret-root" in str(operator.value)
    monkeypatch.setenv("HASHVIZ_DEMO", "1")
    with pytest.raises(HashvizError, match="outside the data roots") as visitor:
        inside_data_roots(tmp_path / "elsewhere")
    assert "secret" not in str(visitor.value) and "HASHVIZ_DATA_ROOTS" in str(visitor.value)


def test_a_demo_does_not_open_on_a_model_whose_stored_map_is_a_lie(tiny_zoo, tmp_path, capsys):
    """A crafted directory claiming mAP@all 1.0 (its codes give less) is not pinned as the demo's first
    model; the honest best is, found by recomputing mAP@all from the codes."""
    import json
    import shutil

    from hashviz import metrics as M
    from hashviz.zoo import discover
    root = tmp_path / "models"
    for name in ("lsh-16", "itq-16"):
        shutil.copytree(tiny_zoo / name, root / name)
    shutil.copytree(tiny_zoo / "lsh-16", root / "aaa-crafted")
    config = json.loads((root / "aaa-crafted" / "config.json").read_text())
    config["metrics"]["map_all"] = 1.0
    (root / "aaa-crafted" / "config.json").write_text(json.dumps(config))
    truth = {m.name: M.evaluate(m.query_codes, m.database_codes, m.query_labels, m.database_labels)["map_all"]
             for m in discover(root)[0] if m.name != "aaa-crafted"}
    _, env = plan(root, "--demo")
    assert Deployment.from_env(env).default_model == max(truth, key=truth.get)
    assert "aaa-crafted stores mAP@all 1.0000 but its codes give" in capsys.readouterr().err
    _, env = plan(root, "--demo", "--default-model", "aaa-crafted")          # the operator's word stands
    assert Deployment.from_env(env).default_model == "aaa-crafted"
