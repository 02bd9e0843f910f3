import numpy as np
import plotly.graph_objects as go
import pytest

from hashviz import plots
from hashviz.errors import HashvizError


def titled(fig):
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text
    return fig


def test_bit_balance_dead_bits_have_colour_pattern_and_text():
    p = np.array([0.5, 0.49, 1.0, 0.01, 0.6])
    fig = titled(plots.bit_balance_figure(p))
    assert len(fig.data) == 2
    ok, dead = fig.data
    assert list(ok.x) == [0, 1, 4] and list(dead.x) == [2, 3]
    assert list(dead.text) == ["dead", "dead"] and dead.marker.pattern.shape == "x"
    assert dead.marker.color != ok.marker.color
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    none_dead = plots.bit_balance_figure(np.full(8, 0.5))
    assert len(none_dead.data) == 2 and len(none_dead.data[1].x) == 0


def test_heatmaps():
    c = np.eye(4)
    for fig in (plots.correlation_heatmap(c), plots.mutual_info_heatmap(c)):
        titled(fig)
        assert len(fig.data) == 1 and np.asarray(fig.data[0].z).shape == (4, 4)
        assert fig.layout.xaxis.title.text == "bit"
    assert plots.correlation_heatmap(c).data[0].zmin == -1
    with pytest.raises(HashvizError):
        plots.correlation_heatmap(np.zeros((2, 3)))
    cu = titled(plots.codeword_usage_figure(np.ones((3, 16)), perplexity=np.full(3, 16.0)))
    assert len(cu.data) == 1 and np.asarray(cu.data[0].z).shape == (3, 16)
    assert "perplexity 16" in cu.data[0].y[0]
    conf = titled(plots.confusion_heatmap(np.array([[5, 1], [2, 7]]), ["cat", "dog"]))
    assert len(conf.data) == 1 and list(conf.data[0].x) == ["cat", "dog"]
    assert conf.data[0].text[1][1] == "7"
    big = plots.confusion_heatmap(np.ones((30, 30)))
    assert big.data[0].text is None


def test_histogram_figures():
    edges = np.linspace(0, 2, 11)
    fig = titled(plots.quantization_error_figure(edges, np.arange(10), np.arange(10)[::-1]))
    assert len(fig.data) == 2 and len(fig.data[0].y) == 10
    bs = titled(plots.bucket_size_figure(np.array([1, 2, 5]), np.array([100, 10, 1])))
    assert len(bs.data) == 1 and list(bs.data[0].y) == [100, 10, 1] and bs.layout.yaxis.type == "log"
    dd = titled(plots.distance_distribution_figure(np.array([3, 1, 0]), np.array([0, 1, 3]), overlap=0.25))
    assert len(dd.data) == 2 and np.allclose(dd.data[0].y, [0.75, 0.25, 0])
    assert "0.25" in dd.layout.title.text


def test_evaluation_figures():
    pr = titled(plots.pr_curve_figure({"DSH": {"precision": [1, 0.8, 0.5], "recall": [0.1, 0.4, 1]},
                                       "LSH": {"precision": [0.6, 0.3], "recall": [0.2, 1]}}))
    assert len(pr.data) == 2 and list(pr.data[1].y) == [0.6, 0.3]
    assert pr.data[0].marker.symbol != pr.data[1].marker.symbol
    assert pr.layout.xaxis.title.text == "recall"
    pk = titled(plots.precision_at_k_figure({"A": {100: 0.5, 10: 0.9}, "B": {10: 0.7}}))
    assert len(pk.data) == 2 and list(pk.data[0].x) == [10, 100] and list(pk.data[0].y) == [0.9, 0.5]
    mb = titled(plots.map_vs_bits_figure([("DSH", 64, 0.8), ("DSH", 16, 0.6), ("LSH", 16, 0.2)]))
    assert len(mb.data) == 2 and list(mb.data[0].x) == [16, 64] and list(mb.layout.xaxis.tickvals) == [16, 64]


def test_code_map_label_traces_carry_global_row_ids():
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(30, 2))
    rows = np.arange(30) * 7 + 1000
    labels = np.arange(30) % 3
    fig = titled(plots.code_map_figure(xy, rows, labels, "label", class_names=["a", "b", "c"]))
    assert len(fig.data) == 3 and [t.name for t in fig.data] == ["a", "b", "c"]
    assert sum(len(t.x) for t in fig.data) == 30
    for t in fig.data:
        cd = np.asarray(t.customdata)
        assert set(cd) <= set(rows)
        # customdata points to the same point as x/y
        for r, x in zip(cd, t.x):
            assert xy[np.flatnonzero(rows == r)[0], 0] == x
    assert isinstance(fig.data[0], go.Scatter)
    big = plots.code_map_figure(rng.normal(size=(3000, 2)), np.arange(3000), np.zeros(3000, int))
    assert isinstance(big.data[0], go.Scattergl)


def test_code_map_correct_and_bit_kinds():
    xy = np.zeros((6, 2))
    fig = plots.code_map_figure(xy, np.arange(6), np.array([1, 0.9, 0.2, 0, 0.5, 0.4]), "correct")
    assert len(fig.data) == 2 and list(fig.data[0].customdata) == [0, 1, 4]
    assert fig.data[0].marker.symbol != fig.data[1].marker.symbol
    fig = plots.code_map_figure(xy, np.arange(6), np.array([1, -1, 1, 1, -1, -1]), "bit")
    assert [list(t.customdata) for t in fig.data] == [[1, 4, 5], [0, 2, 3]]
    with pytest.raises(HashvizError):
        plots.code_map_figure(xy, np.arange(6), np.zeros(6), "colour")
    with pytest.raises(HashvizError):
        plots.code_map_figure(xy, np.arange(5), np.zeros(6))


def test_selected_rows_several_traces():
    xy = np.random.default_rng(1).normal(size=(9, 2))
    rows = np.array([90, 91, 92, 93, 94, 95, 96, 97, 98])
    fig = plots.code_map_figure(xy, rows, np.arange(9) % 3, "label")
    # Streamlit reports per-trace point indices; customdata holds the global row ids
    points = []
    for curve in (2, 0):
        for idx in (1, 0):
            cd = fig.data[curve].customdata[idx]
            points.append({"curve_number": curve, "point_index": idx, "point_number": idx,
                           "customdata": [int(cd)] if idx else int(cd)})
    points.append(dict(points[0]))                      # duplicate selection
    event = {"selection": {"points": points, "point_indices": [1, 0, 1, 0, 1], "box": [], "lasso": []}}
    got = plots.selected_rows(event)
    assert got.dtype == np.int64
    assert got.tolist() == [95, 92, 93, 90]
    # points without customdata: looked up through the figure
    bare = {"selection": {"points": [{"curve_number": 1, "point_index": 2}]}}
    assert plots.selected_rows(bare).tolist() == []
    assert plots.selected_rows(bare, fig).tolist() == [fig.data[1].customdata[2]]
    assert plots.selected_rows(None).size == 0
    assert plots.selected_rows({"selection": {"points": []}}).size == 0

    class AttrEvent(dict):                               # streamlit's event allows attribute access too
        __getattr__ = dict.__getitem__

    assert plots.selected_rows(AttrEvent(selection=AttrEvent(points=[{"customdata": 97.0}]))).tolist() == [97]


def test_training_curves_figure_has_loss_and_validation_panels():
    history = [{"epoch": 1, "loss": 0.9, "val_map": 0.3}, {"epoch": 2, "loss": 0.5, "val_map": 0.6}]
    fig = plots.training_curves_figure(history)
    assert [t.name for t in fig.data] == ["loss", "validation mAP"]
    assert list(fig.data[1].y) == [0.3, 0.6] and list(fig.data[0].x) == [1, 2]
    assert len(plots.training_curves_figure([]).data) == 2
