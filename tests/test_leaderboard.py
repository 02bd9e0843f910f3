"""hashviz.leaderboard: tables, curves, the survey's conclusions and the failure finder."""

import math
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from hashviz import failures
from hashviz import leaderboard as lb
from hashviz.codes import pack_bits01
from hashviz.errors import HashvizError
from hashviz.metrics import reported_metrics
from hashviz.seeds import group_by_seed
from hashviz.zoo import ModelDir, discover
from reference import ref_all


def fake(name, method, family, bits=32, map_all=0.5, regs=None, dataset="fashion-mnist", code_type="binary",
         seed=0, epochs=3, hyper=None, **metrics):
    """A ModelDir with a config only (enough for tables and conclusions); models that differ only by
    `seed` are one group of seeds."""
    config = {"method": method, "family": family, "bits": bits, "code_type": code_type, "dataset": dataset,
              "protocol": "fmnist-1k", "regularizers": regs or {}, "train_seconds": 12.5, "seed": seed,
              "hyper": hyper or {},
              "spec": {"method": method, "bits": bits, "seed": seed, "epochs": epochs, "lr": 0.001,
                       "regularizers": regs or {}, "threads": 1},
              "metrics": {"map_all": map_all, "map_1000": map_all + 0.01,
                          "map_tie_aware": math.nan if code_type == "pq" else map_all - 0.01,
                          "map_tie_min": math.nan if code_type == "pq" else map_all - 0.05,
                          "map_tie_max": math.nan if code_type == "pq" else map_all + 0.05,
                          "p_h2": math.nan if code_type == "pq" else 0.4,
                          "p_h2_empty": math.nan if code_type == "pq" else 0.1, **metrics}}
    return ModelDir(Path(name), config, {})


def tiny_models(tiny_zoo):
    return {m.name: m for m in discover(tiny_zoo)[0]}


# ------------------------------------------------------------------ leaderboard

def test_leaderboard_has_every_model_sorted_by_map_with_nan_for_pq():
    models = [fake("a", "itq", "shallow", map_all=0.3), fake("b", "dpq", "quantization", code_type="pq", map_all=0.7),
              fake("c", "csq", "classification", map_all=0.8, regs={"balance": 0.1})]
    table = lb.leaderboard_table(models)
    assert list(table.columns) == lb.leaderboard_columns()
    assert list(table["model"]) == ["c", "b", "a"]
    pq = table.set_index("model").loc["b"]
    hamming_only = [m.label for m in reported_metrics() if m.hamming_only]       # n/a for pq codes
    assert hamming_only and all(math.isnan(pq[c]) for c in hamming_only) and pq["mAP@all"] == 0.7
    assert table.set_index("model").loc["c", "regularisers"] == "balance=0.1"
    assert table["mAP@all"].dtype == float and table["train s"].tolist() == [12.5] * 3


def test_leaderboard_csv_writes_na_as_text_and_note_says_why():
    models = [fake("dpq-32", "dpq", "quantization", code_type="pq"), fake("lsh-32", "lsh", "shallow")]
    table = lb.leaderboard_table(models)
    lines = lb.leaderboard_csv(table, models).decode("utf-8").strip().splitlines()
    assert lines[:2] == ["# hashviz export: leaderboard", "# model: dpq-32, lsh-32"]
    assert "fmnist-1k" in lines[2] and "ties by database index" in lines[3]
    header, *rows = lines[4:]
    assert header.split(",")[:2] == ['"model"', '"method"'] and len(rows) == 2
    assert "n/a" in next(r for r in rows if r.startswith('"dpq-32"')) and "n/a" not in rows[1]
    note = lb.not_applicable_note(table)
    assert "dpq-32" in note and "Hamming" in note and "lsh-32" not in note
    assert lb.not_applicable_note(lb.leaderboard_table([fake("x", "lsh", "shallow")])) is None


def test_protocol_statement_states_ties_topk_zero_rule_and_selection():
    text = lb.protocol_statement([fake("a", "lsh", "shallow")])
    for words in ("ties", "database index", "mAP@1000", "scores 0", "empty ball", "validation", "fmnist-1k"):
        assert words in text


def test_leaderboard_of_tiny_zoo_matches_stored_metrics(tiny_zoo):
    models = tiny_models(tiny_zoo)
    table = lb.leaderboard_table(models.values()).set_index("model")
    assert set(table.index) == set(models)
    csq = models["csq-16"]
    truth = ref_all(csq.query_codes, csq.database_codes, csq.query_labels, csq.database_labels)  # loops, from codes
    assert table.loc["csq-16", "mAP@all"] == pytest.approx(truth["map_all"], abs=1e-9)
    assert table.loc["csq-16", "P@H<=2"] == pytest.approx(truth["p_h2"], abs=1e-9)
    assert math.isnan(table.loc["dpq-16", "tie-aware mAP"]) and not math.isnan(table.loc["itq-16", "P@H<=2"])


# ------------------------------------------------------------------ curves

def test_curves_skip_pq_for_pr_and_keep_precision_at_k(tiny_zoo):
    models = list(tiny_models(tiny_zoo).values())
    curves, skipped = lb.pr_curves(models)
    assert skipped == ["dpq-16"] and len(curves["lsh-16"]["precision"]) == 17
    fig = lb.pr_figure(models)
    assert isinstance(fig, go.Figure) and {t.name for t in fig.data} == set(curves)
    pk = lb.precision_at_k_curves(models)
    assert set(pk) == {m.name for m in models} and sorted(pk["csq-16"]) == [1, 10, 100, 1000]
    fig = lb.precision_at_k_curve_figure(models)
    assert len(fig.data) == 5 and fig.layout.xaxis.type == "log" and fig.layout.title.text


def test_map_vs_bits_keeps_methods_with_two_lengths_and_no_ablations():
    models = [fake("d16", "dpsh", "pairwise", 16, 0.5), fake("d32", "dpsh", "pairwise", 32, 0.6),
              fake("d32b", "dpsh", "pairwise", 32, 0.9, regs={"balance": 0.1}), fake("l32", "lsh", "shallow", 32, 0.2)]
    assert lb.map_vs_bits_rows(models) == [("dpsh", 16, 0.5), ("dpsh", 32, 0.6)]
    fig = lb.map_vs_bits_curve_figure(models)
    assert [t.name for t in fig.data] == ["dpsh"] and list(fig.data[0].y) == [0.5, 0.6]
    assert lb.map_vs_bits_rows(models[-1:]) == []


# ------------------------------------------------------------------ seeds and noise

def seeds(stem, method, family, values, **kw):
    """One model per seed: stem, stem-s1, ... with the given mAP@all values."""
    return [fake(stem if s == 0 else f"{stem}-s{s}", method, family, map_all=v, seed=s, **kw)
            for s, v in enumerate(values)]


@pytest.fixture
def unsupervised_family(monkeypatch):
    """The family "unsupervised" in the registry (issue 16's unsupervised methods bring it)."""
    from hashviz.methods import registry
    if "unsupervised" not in registry.FAMILY_INFO:
        monkeypatch.setitem(registry.FAMILY_INFO, "unsupervised",
                            registry.FamilyInfo("unsupervised", "Unsupervised deep", True, False, False))


def test_models_differing_only_by_seed_form_one_group_with_sample_sd():
    models = seeds("csq-32", "csq", "classification", [0.80, 0.82, 0.84]) + [
        fake("csq-32-long", "csq", "classification", map_all=0.9, epochs=50),    # another recipe
        fake("csq-32-b", "csq", "classification", map_all=0.7, regs={"balance": 0.1})]
    groups = {g.names: g for g in group_by_seed(models)}
    assert set(groups) == {"csq-32, csq-32-s1, csq-32-s2", "csq-32-long", "csq-32-b"}
    mean, sd, n = groups["csq-32, csq-32-s1, csq-32-s2"].stats()
    assert (mean, sd, n) == (pytest.approx(0.82), pytest.approx(0.02), 3)   # sqrt((.02² + 0 + .02²) / 2)
    table = lb.seed_table(models).set_index("models")
    assert table.loc["csq-32, csq-32-s1, csq-32-s2", "mAP@all"] == "0.820 ± 0.020"
    assert table.loc["csq-32, csq-32-s1, csq-32-s2", "mAP@1000"] == "0.830 ± 0.020"
    assert table.loc["csq-32, csq-32-s1, csq-32-s2", "n"] == 3
    assert table.loc["csq-32-long", "mAP@all"] == "0.900" and table.loc["csq-32-long", "n"] == 1
    assert list(table.index)[0] == "csq-32-long"                      # best mean first
    assert table.loc["csq-32-b", "regularisers"] == "balance=0.1"


def test_a_setting_added_later_and_off_keeps_a_model_in_its_group():
    """A model trained before the spec gained a flag records it as None (or not at all); one trained
    after records False: the same recipe, one group. The flag on is another recipe."""
    old, new, on = (fake(n, "dch", "pairwise", seed=s) for n, s in (("dch-32", 0), ("dch-32-s1", 1), ("dch-32-q", 0)))
    old.config["spec"]["quick"], new.config["spec"]["quick"], on.config["spec"]["quick"] = None, False, True
    assert sorted(g.names for g in group_by_seed([old, new, on])) == ["dch-32, dch-32-s1", "dch-32-q"]


def test_seed_table_says_na_for_pq_hamming_columns():
    table = lb.seed_table(seeds("dpq-32", "dpq", "quantization", [0.7, 0.8], code_type="pq"))
    assert table.loc[0, "tie-aware mAP"] == "n/a" and table.loc[0, "mAP@all"] == "0.750 ± 0.071"


def by_key(models, **kw):
    return {c.key: c for c in lb.check_conclusions(models, **kw)}


def hand_zoo():
    """Three seeds (0, 1, 2) per group; sample variances by hand: csq and quantization .0004, unsupervised
    .0009, the others .0001."""
    return (seeds("csq-32", "csq", "classification", [0.80, 0.82, 0.84])
            + seeds("dpsh-32", "dpsh", "pairwise", [0.79, 0.80, 0.81])
            + seeds("itq-32", "itq", "shallow", [0.48, 0.49, 0.50])
            + seeds("unsup-32", "someunsup", "unsupervised", [0.60, 0.63, 0.66])
            + seeds("dpsh-32-balance", "dpsh", "pairwise", [0.80, 0.82, 0.81], regs={"balance": 0.1})
            + seeds("dpsh-32-quantization", "dpsh", "pairwise", [0.73, 0.75, 0.77], regs={"quantization": 0.1}))


T2 = 4.302653              # t(0.975, 2): three paired seeds


def test_each_conclusion_pairs_the_seeds_and_reads_its_95_interval(unsupervised_family):
    """Seed s of every group shares the protocol sample, so gaps are taken seed by seed. Per-seed gaps
    with sd 0.01 over 3 seeds: se 0.01/√3, half-width T2 x 0.0057735 = 0.024841."""
    c = by_key(hand_zoo())
    half = T2 * 0.01 / math.sqrt(3)
    deep = c["deep_beats_shallow"]                                      # csq - itq: .32, .33, .34
    assert deep.verdict == "holds" and deep.gap == pytest.approx(0.33) and deep.se == pytest.approx(0.01 / math.sqrt(3))
    assert deep.comparison.low == pytest.approx(0.33 - half) and deep.comparison.high == pytest.approx(0.33 + half)
    row = deep.evidence.iloc[0]
    assert row["best deep"] == "csq-32, csq-32-s1, csq-32-s2" and row["best deep n"] == 3
    assert row["95% low"] == pytest.approx(0.33 - half) and row["n"] == "3 paired" and row["pairing"] == "paired"
    assert row["verdict"] == "holds"
    similarity = c["similarity_matters"]                                # csq - unsupervised: .20, .19, .18
    assert similarity.verdict == "holds" and similarity.gap == pytest.approx(0.19)
    assert similarity.evidence.iloc[0]["best unsupervised"] == "unsup-32, unsup-32-s1, unsup-32-s2"
    labels = c["labels_help"]                                           # csq - dpsh: .01, .02, .03 (ablations left out)
    assert labels.verdict == "inside the noise" and labels.gap == pytest.approx(0.02)
    assert labels.comparison.low == pytest.approx(-0.0048414, abs=1e-6)
    assert labels.summary.startswith("gap +0.0200, 95% interval [-0.0048, +0.0448], n = 3 paired seeds; mAP@all, "
                                     "label-using minus similarity-only")


def test_each_ablation_row_and_the_ablation_as_a_whole(unsupervised_family):
    tricks = by_key(hand_zoo())["tricks_help"]
    rows = tricks.evidence.set_index("variant")
    half = T2 * 0.01 / math.sqrt(3)
    assert rows.loc["balance=0.1", "gap"] == pytest.approx(0.01)           # .01, .02, .00: sd .01
    assert rows.loc["balance=0.1", "95% high"] == pytest.approx(0.01 + half)
    assert rows.loc["balance=0.1", "verdict"] == "inside the noise"
    assert rows.loc["quantization=0.1", "gap"] == pytest.approx(-0.05)     # -.06, -.05, -.04: sd .01
    assert rows.loc["quantization=0.1", "95% high"] == pytest.approx(-0.05 + half)
    assert rows.loc["quantization=0.1", "verdict"] == "does not hold"
    assert rows.loc["quantization=0.1", "without"] == "dpsh-32, dpsh-32-s1, dpsh-32-s2"
    # The mean of the two gaps, per seed: ½ balance + ½ quantization − dpsh (the shared baseline once)
    # = .765 − .79, .785 − .80, .79 − .81 = −.025, −.015, −.020: mean −.02, sd .005, half T2 x .005/√3.
    assert tricks.gap == pytest.approx(-0.02) and tricks.se == pytest.approx(0.005 / math.sqrt(3))
    assert tricks.comparison.high == pytest.approx(-0.02 + T2 * 0.005 / math.sqrt(3))      # −0.007579
    assert tricks.verdict == "does not hold"


def test_one_seed_each_uses_the_assumed_noise_and_says_so():
    models = [fake("lsh", "lsh", "shallow", map_all=0.2), fake("itq", "itq", "shallow", map_all=0.77),
              fake("dpsh", "dpsh", "pairwise", map_all=0.8), fake("csq", "csq", "classification", map_all=0.82),
              fake("dpsh-b", "dpsh", "pairwise", map_all=0.85, regs={"balance": 0.1})]
    c = by_key(models)
    se = 0.01 * math.sqrt(1 + 1)                                         # the assumed sd 0.01, n = 1 and 1
    assert c["deep_beats_shallow"].verdict == "holds" and c["deep_beats_shallow"].se == pytest.approx(se)
    assert c["labels_help"].verdict == "inside the noise"                # 0.02 < 1.96 se = 0.0277
    assert c["tricks_help"].verdict == "holds" and c["tricks_help"].gap == pytest.approx(0.05)
    assert "assumed" in c["labels_help"].summary and "n = 1 vs 1 seeds (Welch, pooled sd)" in c["labels_help"].summary
    assert c["similarity_matters"].verdict == lb.CANNOT_CHECK          # no unsupervised deep model
    assert "unsupervised" in c["similarity_matters"].needs


def test_conclusions_do_not_hold_when_the_other_side_wins_beyond_the_noise():
    models = [fake("itq", "itq", "shallow", map_all=0.7), fake("dpsh", "dpsh", "pairwise", map_all=0.6),
              fake("csq", "csq", "classification", map_all=0.5),
              fake("csq-q", "csq", "classification", map_all=0.4, regs={"quantization": 0.1})]
    c = by_key(models)
    assert c["deep_beats_shallow"].verdict == lb.DOES_NOT_HOLD == "does not hold"
    assert c["labels_help"].verdict == lb.DOES_NOT_HOLD and c["tricks_help"].verdict == lb.DOES_NOT_HOLD
    assert (c["deep_beats_shallow"].evidence["verdict"] == "does not hold").all()


def test_conclusions_cannot_check_without_comparable_models():
    models = [fake("itq", "itq", "shallow", 32), fake("dpsh", "dpsh", "pairwise", 64),
              fake("csq-b", "csq", "classification", 32, regs={"balance": 0.1})]
    c = by_key(models)
    assert {x.verdict for x in c.values()} == {lb.CANNOT_CHECK}
    assert all(x.needs and x.evidence.empty for x in c.values())


def test_conclusions_compare_only_the_same_dataset():
    c = by_key([fake("itq", "itq", "shallow", dataset="digits"), fake("dpsh", "dpsh", "pairwise")])
    assert c["deep_beats_shallow"].verdict == lb.CANNOT_CHECK


def test_several_settings_are_judged_by_the_mean_gap_with_each_datasets_noise():
    """16 bits: deep ahead by 0.10; 32 bits: shallow ahead by 0.04. fashion-mnist's noise from its own
    seeds (sd 0.02), digits' assumed (no two seeds there)."""
    models = (seeds("itq16", "itq", "shallow", [0.48, 0.50, 0.52], bits=16)
              + seeds("d16", "dpsh", "pairwise", [0.58, 0.60, 0.62], bits=16)
              + [fake("itq32", "itq", "shallow", 32, 0.64), fake("d32", "dpsh", "pairwise", 32, 0.60),
                 fake("dg-itq", "itq", "shallow", dataset="digits", map_all=0.3),
                 fake("dg-d", "dpsh", "pairwise", dataset="digits", map_all=0.9)])
    c = by_key(models)["deep_beats_shallow"]
    rows = c.evidence.set_index("setting")
    assert list(rows["verdict"]) == ["holds", "holds", "inside the noise"]   # digits first (sorted)
    sixteen, fm32, digits = (rows.loc[f"{s} · fmnist-1k · {b} bits"] for s, b in
                             (("fashion-mnist", 16), ("fashion-mnist", 32), ("digits", 32)))
    assert (sixteen["gap"], sixteen["95% low"], sixteen["95% high"]) == pytest.approx((0.10, 0.10, 0.10))  # .1 on every seed
    assert sixteen["pairing"] == "paired"
    half = 1.959964 * 0.01 * math.sqrt(2)                              # digits: assumed sd, one seed each
    assert digits["95% low"] == pytest.approx(0.6 - half) and digits["pairing"] == "Welch, pooled sd"
    half = 2.776445 * 0.02 * math.sqrt(2)                              # t(0.975, 4): sd .02 pooled over 4 dof
    assert fm32["95% low"] == pytest.approx(-0.04 - half) and fm32["95% high"] == pytest.approx(-0.04 + half)
    # No seed shared by all six groups: Welch over the mean of (0.6, 0.10, -0.04) = 0.22. Variances (1/9 of):
    # d16 and itq16 .0004/3 each (own sd, 2 dof), d32 + itq32 .0004 + .0004 (pooled, 4 dof),
    # digits .0001 + .0001 (assumed); df = (.00126667/9)² / (2 (.0004/27)²/2 + (.0008/9)²/4) = 9.025.
    se = math.sqrt(0.0004 / 3 * 2 + 0.0008 + 0.0002) / 3
    assert c.gap == pytest.approx(0.22) and c.se == pytest.approx(se) and c.comparison.df == pytest.approx(9.025)
    assert c.comparison.low == pytest.approx(0.22 - 2.261202 * se, abs=1e-6) and c.verdict == "holds"   # t(0.975, 9.025)
    assert "sd 0.0200 pooled over 2 group(s)" in c.summary and "assumed" in c.summary


def test_an_ablation_list_is_judged_one_conclusion_each():
    """The hook the results run shares: any Ablation, here "longer training" against the recipe's."""
    from hashviz.ablations import Ablation
    longer = Ablation("longer", "longer", "Longer training helps.", "50 epochs against 3.", "long models", (),
                      variant=lambda k: "50 ep" if '"epochs": 50' in k.recipe else None,
                      is_baseline=lambda k, o: o == k._replace(recipe=k.recipe.replace('"epochs": 50', '"epochs": 3')))
    models = [fake("d", "dpsh", "pairwise", map_all=0.8), fake("d-long", "dpsh", "pairwise", map_all=0.9, epochs=50)]
    c = by_key(models, ablations=[longer])
    assert list(c)[-1] == "longer" and "tricks_help" not in c
    assert c["longer"].verdict == "holds" and c["longer"].evidence.iloc[0]["with"] == "d-long"


def test_the_ensemble_ablation_against_its_member_at_the_same_bits():
    """Ensemble seeds .87/.88/.89 against GreedyHash .85/.86/.87 (its member at the same 32 bits, the
    same seeds): +0.02 on every seed, so the paired interval is [0.02, 0.02]."""
    hyper = {"member": "greedyhash", "members": 2, "sampling": "seeds"}
    models = [fake(f"ensemble-32-s{s}", "ensemble", "ensemble", map_all=v, seed=s, hyper=hyper)
              for s, v in enumerate((0.87, 0.88, 0.89))]
    models += [fake(f"greedyhash-32-s{s}", "greedyhash", "classification", map_all=v, seed=s)
               for s, v in enumerate((0.85, 0.86, 0.87))]
    models += [fake("greedyhash-16", "greedyhash", "classification", bits=16, map_all=0.99)]  # other length: not a baseline
    c = by_key(models)["ensemble_helps"]
    row = c.evidence.iloc[0]
    assert row["variant"] == "2 x greedyhash (seeds)" and row["without"] == "greedyhash-32-s0, greedyhash-32-s1, greedyhash-32-s2"
    assert c.gap == pytest.approx(0.02) and c.se == pytest.approx(0, abs=1e-12)
    assert c.comparison.low == pytest.approx(0.02) and c.verdict == "holds"


def test_the_rule_is_stated_with_the_noise_measured_here():
    text = lb.conclusions_rule(seeds("d", "dpsh", "pairwise", [0.79, 0.80, 0.81]))
    for words in ("t(0.975, n−1) · sd/√n", "Welch", "**holds**", "**does not hold**", "**inside the noise**",
                  "sd 0.0100 pooled over 1 group(s)"):
        assert words in text

# ------------------------------------------------------------------ failure finder

def synthetic_model(codes01, db_labels, q_codes01, q_labels, class_names=("a", "b", "c")):
    config = {"method": "lsh", "family": "shallow", "bits": 8, "code_type": "binary", "dataset": "x",
              "protocol": "p", "class_names": list(class_names)}
    arrays = {"database": pack_bits01(np.asarray(codes01, np.uint8)), "database_labels": np.asarray(db_labels),
              "query": pack_bits01(np.asarray(q_codes01, np.uint8)), "query_labels": np.asarray(q_labels)}
    return ModelDir(Path("synthetic"), config, arrays)


def test_per_query_ap_matches_metrics_for_binary_and_stored_map_for_pq(tiny_zoo):
    models = tiny_models(tiny_zoo)
    csq = models["csq-16"]
    ap = failures.per_query_ap(csq)
    np.testing.assert_allclose(ap, ref_all(csq.query_codes, csq.database_codes, csq.query_labels,
                                           csq.database_labels)["ap_all"], atol=1e-12)
    dpq = models["dpq-16"]
    assert failures.per_query_ap(dpq).mean() == pytest.approx(dpq.metrics["map_all"], abs=1e-9)


def test_worst_queries_are_lowest_ap_with_their_top_n(tiny_zoo):
    model = tiny_models(tiny_zoo)["dpsh-16"]
    ap = failures.per_query_ap(model)
    table = failures.worst_queries(model, ap, count=5, n=7)
    assert len(table) == 5 and table["AP"].is_monotonic_increasing
    assert table["AP"].iloc[-1] <= np.sort(ap)[5]
    first = table.iloc[0]
    rows = first["top 7 database rows"]
    dist = np.unpackbits(model.query_codes[first["query row"]] ^ model.database_codes, axis=1).sum(1)
    assert rows == list(np.lexsort((np.arange(len(dist)), dist))[:7])
    label = model.query_labels[first["query row"]]
    assert first["relevant in top 7"] == int((model.database_labels[rows] == label).sum())


def test_per_class_ap_is_mean_of_its_queries():
    model = synthetic_model([[0] * 8, [1] * 8], [0, 1], [[0] * 8, [1] * 8, [1] * 8], [0, 1, 0])
    ap = failures.per_query_ap(model)
    np.testing.assert_allclose(ap, [1.0, 1.0, 0.5])
    table = failures.per_class_ap(model, ap).set_index("class")
    assert table.loc["a", "mAP"] == pytest.approx(0.75) and table.loc["a", "worst query row"] == 2
    assert table.loc["b", "queries"] == 1 and list(table.index) == ["a", "b"]


def test_retrieval_confusion_rows_are_shares_of_retrieved_classes():
    db = [[0] * 8, [0] * 7 + [1], [1] * 8, [1] * 7 + [0]]
    model = synthetic_model(db, [0, 1, 1, 2], [[0] * 8, [1] * 8], [0, 1])
    m = failures.retrieval_confusion(model, n=2)
    np.testing.assert_allclose(m[0], [0.5, 0.5, 0.0])      # query of class a retrieves rows 0 and 1
    np.testing.assert_allclose(m[1], [0.0, 0.5, 0.5])      # query of class b retrieves rows 2 and 3
    np.testing.assert_allclose(m[2], 0.0)                  # no query of class c
    fig = failures.confusion_figure(m, ["a", "b", "c"], 2)
    assert list(fig.data[0].x) == ["a", "b", "c"] and "top 2" in fig.layout.title.text


def test_cross_class_collisions_list_each_class_of_a_shared_code():
    db = [[0] * 8, [0] * 8, [0] * 8, [1] * 8, [1] * 8, [1, 0] * 4]
    model = synthetic_model(db, [0, 1, 1, 2, 2, 0], [[0] * 8], [0])
    table = failures.cross_class_collisions(model)
    assert list(table["database row"]) == [0, 1]           # the all-zero code holds a and b; all-one only c
    assert list(table["class"]) == ["a", "b"] and list(table["items of class"]) == [1, 2]
    assert set(table["code"]) == {"00000000"} and set(table["bucket size"]) == {3}
    clean = synthetic_model([[0] * 8, [1] * 8], [0, 1], [[0] * 8], [0])
    assert failures.cross_class_collisions(clean).empty


def test_failure_report_on_tiny_zoo_models(tiny_zoo):
    for name in ("lsh-16", "dpq-16"):
        model = tiny_models(tiny_zoo)[name]
        report = failures.failure_report(model, n=5, worst=3)
        assert len(report.worst) == 3 and report.single_label
        assert report.confusion.shape == (10, 10)
        np.testing.assert_allclose(report.confusion.sum(1), 1.0)
        assert report.per_class["queries"].sum() == len(model.query_codes)
        assert (report.collisions["classes in bucket"] > 1).all()
    with pytest.raises(HashvizError):
        failures.failure_report(model, n=0)


def test_multilabel_models_get_per_label_tables_and_refuse_confusion():
    # database: item 0 = code 0x00 with label a, item 1 = code 0xff with label b; two queries:
    # q0 = 0x00 with {a, b} (both items relevant: AP 1), q1 = 0xff with {a} (item 1 first, irrelevant;
    # item 0 at rank 2, relevant: AP 1/2). Per label: a -> q0, q1 (mean 0.75, worst q1), b -> q0 (1.0).
    model = synthetic_model([[0] * 8, [1] * 8], np.array([[1, 0], [0, 1]]), [[0] * 8, [1] * 8],
                            np.array([[1, 1], [1, 0]]), class_names=("a", "b"))
    table = failures.per_class_ap(model, np.array([1.0, 0.5]))
    assert table["class"].tolist() == ["a", "b"] and table["queries"].tolist() == [2, 1]
    assert table["mAP"].tolist() == [0.75, 1.0] and table["worst query row"].tolist() == [1, 0]
    with pytest.raises(HashvizError, match="multi-label"):
        failures.retrieval_confusion(model, n=1)
    report = failures.failure_report(model, n=1, worst=1)
    assert not report.single_label and len(report.worst) == 1
    assert report.worst["query row"].tolist() == [1] and report.worst["AP"].tolist() == [0.5]
