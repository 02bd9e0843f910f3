import json

import numpy as np
import pytest

from hashviz.cli import main
from hashviz.zoo import load_model_dir


def test_methods_lists_every_family(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in ("dpsh", "csq", "dtsh", "hashap", "mihash", "greedyhash", "dpq", "itq", "lsh", "sh"):
        assert f"\n{name} " in out
    for family in ("pairwise", "multiwise", "implicit", "classification", "quantization", "shallow"):
        assert family in out


def test_methods_columns_stay_aligned_with_long_paper_names(capsys):
    from hashviz.methods import list_methods
    main(["methods"])
    lines = capsys.readouterr().out.splitlines()
    starts = [lines[0].index(h) for h in ("family", "paper", "code")]
    for line, info in zip(lines[1:], list_methods()):        # every cell starts under its header
        assert [line.index(v, s) for v, s in zip((info.family, info.paper, info.code_type), starts)] == starts
        assert line[starts[2] - 1] == " "                      # a space before the code column, always


def test_eval_json_has_the_documented_keys(tiny_zoo, capsys):
    assert main(["eval", str(tiny_zoo / "csq-16"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"map_all", "map_1000", "map_tie_aware", "map_tie_min", "map_tie_max", "p_h2",
                           "p_h2_empty", "precision_at_k", "protocol", "protocol_card", "bits", "method"}
    assert result["map_tie_min"] <= result["map_all"] <= result["map_tie_max"]
    assert result["bits"] == 16 and result["method"] == "csq"
    assert result["map_all"] == pytest.approx(load_model_dir(tiny_zoo / "csq-16").metrics["map_all"])
    assert "digits-small" in result["protocol"]


def test_eval_text_states_protocol_and_tie_rule(tiny_zoo, capsys):
    assert main(["eval", str(tiny_zoo / "itq-16")]) == 0
    out = capsys.readouterr().out
    assert "protocol: digits-small" in out and "ties by database index" in out and "mAP@1000" in out


def test_train_writes_a_model_dir(tmp_path, capsys):
    out = tmp_path / "lsh"
    assert main(["train", "--method", "lsh", "--bits", "16", "--dataset", "digits", "--out", str(out)]) == 0
    model = load_model_dir(out)
    assert model.method == "lsh" and model.protocol == "digits-small"
    assert "saved" in capsys.readouterr().out


def test_import_codes_from_deephash_pytorch_exports(tiny_zoo, tmp_path, capsys):
    source = load_model_dir(tiny_zoo / "csq-16")
    signs = lambda packed: np.unpackbits(packed, axis=1).astype(np.float32) * 2 - 1  # noqa: E731
    onehot = lambda labels: np.eye(10, dtype=np.float32)[labels]  # noqa: E731
    files = {"database-codes": signs(source.database_codes), "database-labels": onehot(source.database_labels),
             "query-codes": signs(source.query_codes), "query-labels": onehot(source.query_labels)}
    args = ["import-codes", "--out", str(tmp_path / "imported")]
    for flag, array in files.items():
        np.save(tmp_path / f"{flag}.npy", array)
        args += [f"--{flag}", str(tmp_path / f"{flag}.npy")]
    assert main(args) == 0
    imported = load_model_dir(tmp_path / "imported")
    np.testing.assert_array_equal(imported.database_codes, source.database_codes)
    assert imported.metrics["map_all"] == pytest.approx(source.metrics["map_all"])
    assert not imported.has_images


def test_zoo_build_skips_models_present(tmp_path, capsys):
    from hashviz.zoo_build import build_starter_zoo
    built = build_starter_zoo(tmp_path, log=print, only=["lsh-32", "itq-32"], projections=False,
                              dataset="digits")
    assert sorted(p.name for p in built) == ["itq-32", "lsh-32"]
    again = build_starter_zoo(tmp_path, log=print, only=["lsh-32", "itq-32"], projections=False,
                              dataset="digits")
    assert again == [] and "present, skipped" in capsys.readouterr().out


def test_index_push_loads_codes_into_milvus_lite(tiny_zoo, tmp_path, capsys):
    pytest.importorskip("pymilvus")
    from hashviz.search.milvus import MilvusHammingIndex, collection_name_for
    from hashviz.search import HammingIndex
    uri = str(tmp_path / "codes.db")
    assert main(["index", "push", str(tiny_zoo / "csq-16"), "--uri", uri]) == 0
    assert "pushed" in capsys.readouterr().out
    model = load_model_dir(tiny_zoo / "csq-16")
    remote = MilvusHammingIndex.open(uri, collection_name_for(model.path, model.database_codes))
    local = HammingIndex(model.database_codes)
    for a, b in zip(remote.knn(model.query_codes[:5], 10), local.knn(model.query_codes[:5], 10)):
        np.testing.assert_array_equal(a, b)


def test_index_push_refuses_pq_codes_before_touching_milvus(tiny_zoo, tmp_path, capsys):
    uri = tmp_path / "codes.db"
    assert main(["index", "push", str(tiny_zoo / "dpq-16"), "--uri", str(uri)]) == 2
    assert "only binary codes can be pushed to Milvus" in capsys.readouterr().err and not uri.exists()


def test_bench_command_runs_the_search_benchmark(capsys):
    assert main(["bench", "search", "--quick"]) == 0
    assert "flat" in capsys.readouterr().out
