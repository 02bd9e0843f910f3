"""hashviz.seeds' verdict rule on hand-computed cases: two groups paired by shared seed (Student t on
the per-seed differences), Welch's interval where they share none, and the verdict from the interval.
The t quantiles are written out (two-sided 95%): t(0.975, 1) = 12.7062, t(0.975, 2) = 4.3027,
t(0.975, 4.9592) = 2.5770, t(0.975, 5.8182) = 2.4656, the normal 1.9600."""

import math
from pathlib import Path

import pytest

from hashviz.seeds import (DOES_NOT_HOLD, HOLDS, INSIDE_NOISE, PAIRED, WELCH, WELCH_POOLED, Noise, compare,
                           group_by_seed, pooled_noise, verdict)
from hashviz.zoo import ModelDir


def group(name, values, seeds=None, method="dpsh"):
    """One group of seeds: a model per value, seed s (default 0, 1, ...) and mAP@all as given."""
    models = []
    for s, v in zip(seeds if seeds is not None else range(len(values)), values):
        config = {"method": method, "family": "pairwise", "bits": 32, "code_type": "binary",
                  "dataset": "fashion-mnist", "protocol": "fmnist-1k", "seed": s, "metrics": {"map_all": v},
                  "spec": {"method": method, "bits": 32, "seed": s, "epochs": 3}}
        models.append(ModelDir(Path(f"{name}-s{s}"), config, {}))
    (g,) = group_by_seed(models)
    return g


def test_paired_seeds_hand_computed():
    """Per-seed gaps 0.02, 0.03, 0.01: mean 0.02, sd 0.01, se 0.01/√3 = 0.0057735,
    half-width 4.3027 x 0.0057735 = 0.024841: interval [-0.004841, +0.044841], inside the noise."""
    a, b = group("a", [0.82, 0.83, 0.81]), group("b", [0.80, 0.80, 0.80], method="csq")
    gap = compare([(1.0, a), (-1.0, b)], {})
    assert gap.pairing == PAIRED and gap.sizes == (3,) and gap.df == 2
    assert gap.gap == pytest.approx(0.02) and gap.se == pytest.approx(0.0057735, abs=1e-7)
    assert gap.low == pytest.approx(-0.0048414, abs=1e-6) and gap.high == pytest.approx(0.0448414, abs=1e-6)
    assert gap.verdict == INSIDE_NOISE
    assert gap.text() == "gap +0.0200, 95% interval [-0.0048, +0.0448], n = 3 paired seeds"


def test_pairing_removes_the_spread_the_seeds_share():
    """Both groups move with the sample (0.60/0.70/0.80 and 0.58/0.69/0.77): unpaired, a gap of 0.02 is
    lost in the 0.1 spread; paired, the differences 0.02, 0.01, 0.03 give [-0.004841, +0.044841] again,
    and with 0.02, 0.02, 0.03 (mean 0.023333, sd 0.0057735, half 4.3027 x 0.0033333 = 0.014342) it holds."""
    a = group("a", [0.60, 0.70, 0.80])
    b = group("b", [0.58, 0.69, 0.77], method="csq")
    assert compare([(1.0, a), (-1.0, b)], {}).low == pytest.approx(-0.0048414, abs=1e-6)
    b = group("b", [0.58, 0.68, 0.77], method="csq")
    gap = compare([(1.0, a), (-1.0, b)], {})
    assert gap.gap == pytest.approx(0.0233333, abs=1e-6) and gap.low == pytest.approx(0.0089912, abs=1e-6)
    assert gap.verdict == HOLDS


def test_only_the_shared_seeds_are_paired():
    """a: seeds 0, 1, 2; b: seeds 1, 2, 3. Pairs on seeds 1 and 2: differences 0.05, 0.03, mean 0.04,
    sd 0.014142, se 0.01, half 12.7062 x 0.01 = 0.127062."""
    a = group("a", [0.90, 0.85, 0.83], seeds=[0, 1, 2])
    b = group("b", [0.80, 0.80, 0.10], seeds=[1, 2, 3], method="csq")
    gap = compare([(1.0, a), (-1.0, b)], {})
    assert gap.pairing == PAIRED and gap.sizes == (2,) and gap.gap == pytest.approx(0.04)
    assert (gap.low, gap.high) == (pytest.approx(0.04 - 0.127062, abs=1e-6), pytest.approx(0.04 + 0.127062, abs=1e-6))


def test_welch_interval_for_groups_without_shared_seeds():
    """a = .80/.82/.84 (seeds 0-2: var .0004), b = .70/.74/.72/.76 (seeds 10-13: var .00066667).
    v_a = .0004/3 = .00013333, v_b = .00066667/4 = .00016667, se = √.0003 = .017321;
    df = .0003² / (.00013333²/2 + .00016667²/3) = 4.9592; half 2.5770 x .017321 = .044634."""
    a = group("a", [0.80, 0.82, 0.84])
    b = group("b", [0.70, 0.74, 0.72, 0.76], seeds=[10, 11, 12, 13], method="csq")
    gap = compare([(1.0, a), (-1.0, b)], {})
    assert gap.pairing == WELCH and gap.sizes == (3, 4)
    assert gap.gap == pytest.approx(0.09) and gap.se == pytest.approx(0.0173205, abs=1e-7)
    assert gap.df == pytest.approx(4.959184, abs=1e-5)
    assert gap.low == pytest.approx(0.09 - 0.044634, abs=1e-5) and gap.high == pytest.approx(0.09 + 0.044634, abs=1e-5)
    assert gap.verdict == HOLDS and gap.n_text == "n = 3 vs 4 seeds (Welch)"


def test_a_group_of_one_seed_borrows_the_pooled_sd_and_its_degrees_of_freedom():
    """a: one seed (0.70); b: .80/.82/.84 (seeds 10-12). Pooled noise sd 0.02 over 4 degrees of freedom:
    v_a = .0004/1, v_b = .0004/3 (own sd); df = .00053333² / (.0004²/4 + .00013333²/2)
    = 2.8444e-7 / 4.8889e-8 = 5.8182, t(0.975, 5.8182) = 2.4656; gap -0.12, half 2.4656 x .023094 = .056940."""
    a, b = group("a", [0.70]), group("b", [0.80, 0.82, 0.84], seeds=[10, 11, 12], method="csq")
    noise = {("fashion-mnist", "fmnist-1k"): Noise(0.02, 2, 4)}
    gap = compare([(1.0, a), (-1.0, b)], noise)
    assert gap.pairing == WELCH_POOLED and gap.sizes == (1, 3)
    assert gap.se == pytest.approx(math.sqrt(0.0004 + 0.0004 / 3)) and gap.df == pytest.approx(5.818182, abs=1e-5)
    assert gap.high == pytest.approx(-0.12 + 0.056940, abs=1e-5) and gap.verdict == DOES_NOT_HOLD
    assumed = compare([(1.0, a), (-1.0, group("c", [0.68], method="csq"))], {("fashion-mnist", "fmnist-1k"): Noise(0.01, 0, 0)})
    assert math.isinf(assumed.df)                             # the assumed sd: the normal quantile 1.96
    assert assumed.high - assumed.gap == pytest.approx(1.959964 * 0.01 * math.sqrt(2), abs=1e-6)


def test_the_verdict_reads_the_interval():
    assert verdict(0.001, 0.05) == HOLDS == "holds"
    assert verdict(-0.05, -0.001) == DOES_NOT_HOLD == "does not hold"
    assert verdict(-0.01, 0.05) == verdict(0.0, 0.05) == INSIDE_NOISE == "inside the noise"


def test_pooled_noise_still_measures_the_seed_spread():
    """Groups .80/.82/.84 (sd .02) and .70/.71/.72 (sd .01): s² = (2 x .0004 + 2 x .0001) / 4 = .00025."""
    noise = pooled_noise([group("a", [0.80, 0.82, 0.84]), group("b", [0.70, 0.71, 0.72], method="csq")])
    level = noise[("fashion-mnist", "fmnist-1k")]
    assert level.sd == pytest.approx(math.sqrt(0.00025)) and level.dof == 4 and level.groups == 2


def test_zoo_verdicts_prints_gap_interval_and_n_for_each_verdict(capsys):
    """The shipped zoo (one seed per model): each row's gap is the two named models' mAP@all apart, its
    interval ± 1.96 x 0.01 x √2 (the assumed sd, normal quantile)."""
    import json
    import re
    from hashviz.cli import main
    repo = Path(__file__).resolve().parent.parent
    assert main(["zoo", "verdicts", "--root", str(repo / "models")]) == 0
    out = capsys.readouterr().out
    verdicts = re.findall(r"^- \*\*(.+?)\*\*: .*", out, flags=re.M)
    assert len(verdicts) == 5
    for line in re.findall(r"^- \*\*.+", out, flags=re.M):
        assert re.search(r"gap [+-]\d\.\d{4}, 95% interval \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\], n = ", line), line
    rows = re.findall(r"^  - setting .*; best deep (\S+); .*; best shallow (\S+); .*; gap (\S+); 95% low (\S+); "
                      r"95% high (\S+); n 1 vs 1; pairing Welch, pooled sd; verdict (.+)$", out, flags=re.M)
    assert rows
    half = 1.959964 * 0.01 * math.sqrt(2)
    for deep, shallow, gap, low, high, said in rows:
        maps = [json.loads((repo / "models" / name / "config.json").read_text())["metrics"]["map_all"]
                for name in (deep, shallow)]
        expected = maps[0] - maps[1]
        assert (float(gap), float(low), float(high)) == pytest.approx((expected, expected - half, expected + half),
                                                                      abs=6e-5)
        assert said == ("holds" if expected > half else "inside the noise")
