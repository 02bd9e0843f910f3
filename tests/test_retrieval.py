"""hashviz.retrieval: one query against a model's database, and uploads made into queries."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from hashviz import plots
from hashviz import retrieval as R
from hashviz.code_space import HammingSpace, PQSpace, code_space
from hashviz.data import load_dataset
from hashviz.errors import HashvizError
from hashviz.hamming import hamming_distances
from hashviz.metrics import relevance
from hashviz.retrieval.ranking import tie_groups
from hashviz.search import HammingIndex, PQIndex
from hashviz.zoo import class_names_of, load_model_dir
from reference import ref_ap, ref_distances, ref_ranked_relevance, ref_relevant


@pytest.fixture(scope="module")
def zoo(tiny_zoo):
    return {p.name: load_model_dir(p) for p in tiny_zoo.iterdir() if not p.name.startswith(".")}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def space_of(model):
    """The model's code space over an index built here from the codes (not a page's cache)."""
    if model.code_type == "pq":
        return code_space(model, PQIndex(model.database_codes, model.codebooks, metric=model.config["pq"]["metric"]))
    return code_space(model, HammingIndex(model.database_codes))


def ranked(model, row, n, images=None):
    query = R.query_from_set(model, row, images)
    return R.rank_query(model, space_of(model), R.query_code(model, query), query.label, n)


@pytest.fixture
def imported(tmp_path):
    """A codes-only model (imported codes: no images, no weights)."""
    from hashviz.importing import import_codes
    rng = np.random.default_rng(0)
    files = {"db": rng.integers(0, 2, (60, 16)), "dbl": rng.integers(0, 3, 60),
             "q": rng.integers(0, 2, (5, 16)), "ql": rng.integers(0, 3, 5)}
    for name, array in files.items():
        np.save(tmp_path / f"{name}.npy", array)
    out = import_codes(tmp_path / "db.npy", tmp_path / "dbl.npy", tmp_path / "q.npy", tmp_path / "ql.npy",
                       tmp_path / "models" / "imported-16")
    return load_model_dir(out)


# ------------------------------------------------------------------------------------- queries

def test_query_from_set_maps_row_to_dataset_image_and_label(zoo, digits):
    model = zoo["dpsh-16"]
    query = R.query_from_set(model, 7, digits.images)
    assert query.dataset_id == int(model.query_ids[7])
    assert np.array_equal(query.image, digits.images[model.query_ids[7]])
    assert int(query.label) == int(digits.labels[model.query_ids[7]]) == int(model.query_labels[7])
    assert "#7" in query.source


@pytest.mark.parametrize("row", [-1, 100, 2.5, True])
def test_query_from_set_rejects_rows_outside_the_query_set(zoo, row):
    with pytest.raises(HashvizError, match="between 0 and 99"):
        R.query_from_set(zoo["itq-16"], row)


def test_random_query_of_a_class_has_that_class(zoo):
    model = zoo["itq-16"]
    rng = np.random.default_rng(1)
    rows = {R.random_query_row(model, rng, 4) for _ in range(30)}
    assert all(model.query_labels[r] == 4 for r in rows) and len(rows) > 1
    assert 0 <= R.random_query_row(model, rng) < len(model.query_codes)
    with pytest.raises(HashvizError, match="no image of class 42"):
        R.random_query_row(model, rng, 42)


def test_an_upload_label_matches_the_models_kind_of_labels(zoo):
    assert R.upload_label(zoo["itq-16"], None) is None
    assert R.upload_label(zoo["itq-16"], 3).shape == () and int(R.upload_label(zoo["itq-16"], 3)) == 3

    class MultiLabel:
        database_labels = np.array([[1, 0, 1], [0, 1, 0]], np.uint8)
    one_hot = R.upload_label(MultiLabel, 2)
    assert one_hot.tolist() == [0, 0, 1]
    rel = relevance(one_hot[None], MultiLabel.database_labels)
    assert rel.tolist() == [[True, False]]
    with pytest.raises(HashvizError, match="outside"):
        R.upload_label(MultiLabel, 3)


def test_query_code_is_the_stored_code_for_query_set_images(zoo):
    for name in ("dpsh-16", "dpq-16"):
        model = zoo[name]
        code = R.query_code(model, R.query_from_set(model, 3))
        assert np.array_equal(code.code, model.query_codes[3:4]) and not code.encoded
        if model.code_type == "pq":
            assert np.array_equal(code.vector, model.query_vectors[3:4])


def test_query_code_finds_the_same_image_in_another_models_query_set(zoo, digits):
    query = R.query_from_set(zoo["dpsh-16"], 11, digits.images)
    code = R.query_code(zoo["itq-16"], query)
    assert np.array_equal(code.code, zoo["itq-16"].query_codes[11:12]) and not code.encoded


@pytest.mark.parametrize("name", ["dpsh-16", "itq-16", "dpq-16"])
def test_encoding_a_query_image_gives_its_stored_code(zoo, digits, name):
    from hashviz.encoders import load_encoder
    model = zoo[name]
    stored = R.query_from_set(model, 5, digits.images)
    as_upload = R.Query("upload", stored.image, stored.label)
    code = R.query_code(model, as_upload, lambda: load_encoder(model))
    assert code.encoded and np.array_equal(code.code, model.query_codes[5:6])
    if model.code_type == "pq":
        np.testing.assert_allclose(code.vector, model.query_vectors[5:6], atol=1e-4)


def test_codes_only_model_cannot_encode_an_upload(imported):
    upload = R.Query("upload x.png", np.zeros((8, 8), np.uint8), None)
    with pytest.raises(HashvizError, match="imported codes only"):
        R.query_code(imported, upload, lambda: None)
    assert R.query_code(imported, R.query_from_set(imported, 2)).code.shape == (1, 2)


# ------------------------------------------------------------------------------------- ranking

@pytest.mark.parametrize("name", ["dpsh-16", "lsh-16"])
def test_rank_query_follows_distance_then_index_and_metrics(zoo, name):
    model = zoo[name]
    r = ranked(model, 9, 30)
    d = hamming_distances(model.query_codes[9:10], model.database_codes)[0]
    expected = np.lexsort((np.arange(len(d)), d))[:30]
    assert np.array_equal(r.rows, expected) and np.array_equal(r.distances, d[expected])
    rel = model.database_labels == model.query_labels[9]
    assert np.array_equal(r.relevant, rel[expected])
    assert r.precision == pytest.approx(rel[expected].mean())
    assert r.ap == pytest.approx(ref_ap(ref_ranked_relevance(d.tolist(), rel.tolist())), abs=1e-12) and r.relevant_total == rel.sum()
    # the tie range by sorting: relevant items last / first inside each distance
    lo_hi = []
    for key in (rel, ~rel):
        ordered = rel[np.lexsort((key, d))]
        lo_hi.append((np.cumsum(ordered)[ordered] / (np.flatnonzero(ordered) + 1)).mean())
    assert r.ap_tie_range == pytest.approx(tuple(lo_hi)) and lo_hi[0] <= r.ap <= lo_hi[1]
    assert "tie range {:.3f} – {:.3f}".format(*lo_hi) in R.scores_text(r)
    assert np.array_equal(r.dataset_ids, model.database_ids[expected])


@pytest.mark.parametrize("name", ["itq-16", "dpq-16"])
def test_mean_of_per_query_ap_is_the_leaderboard_map(zoo, name):
    model = zoo[name]
    space = space_of(model)
    aps = []
    for row in range(len(model.query_codes)):
        query = R.query_from_set(model, row)
        aps.append(R.rank_query(model, space, R.query_code(model, query), query.label, 5).ap)
    assert np.mean(aps) == pytest.approx(model.metrics["map_all"], abs=1e-9)


def test_tie_groups_cover_equal_distances_and_count_the_whole_database(zoo):
    model = zoo["dpsh-16"]
    r = ranked(model, 0, 60)
    d_all = hamming_distances(model.query_codes[0:1], model.database_codes)[0]
    assert sum(g.shown for g in r.groups) == 60
    for k, g in enumerate(r.groups):
        members = np.flatnonzero(r.group_of == k)
        assert members[0] + 1 == g.first_rank and len(members) == g.shown
        assert (r.distances[members] == g.distance).all()
        assert g.total == (d_all == g.distance).sum()
        assert ("order arbitrary" in g.title()) == (g.total > 1)
    last = r.groups[-1]
    if last.total > last.shown:
        assert f"{last.total - last.shown} more beyond the top n" in last.title()


def test_pq_ranking_has_float_distances_and_no_tie_aware_ap(zoo):
    r = ranked(zoo["dpq-16"], 2, 10)
    assert r.distances.dtype.kind == "f" and r.ap_tie_aware is None and r.ap is not None
    assert np.all(np.diff(r.distances) >= 0)


def test_unknown_label_leaves_right_wrong_unknown(zoo):
    model = zoo["csq-16"]
    query = R.Query("upload", None, None, row=1, row_of=model.name)
    r = R.rank_query(model, space_of(model), R.query_code(model, query), None, 8)
    assert r.relevant is None and r.precision is None and r.ap is None
    assert r.marks() == ["unknown"] * 8


def test_n_is_validated_and_capped_to_the_database(zoo, imported):
    with pytest.raises(HashvizError, match="positive integer"):
        ranked(zoo["itq-16"], 0, 0)
    assert ranked(imported, 0, 100).n == 60


def test_protocol_note_states_the_protocol_and_the_tie_rule(zoo):
    note = R.protocol_note(zoo["dpsh-16"])
    assert "digits-small" in note and "ties by database index" in note and "tie-aware" in note
    pq_note = R.protocol_note(zoo["dpq-16"])
    assert "asymmetric l2 distance" in pq_note and "tie-aware" not in pq_note


def test_one_ranking_carries_its_ap_and_scores_text_reports_it(zoo):
    model = zoo["dpsh-16"]
    query = R.query_from_set(model, 6)
    code, space = R.query_code(model, query), space_of(model)
    full = R.rank_query(model, space, code, query.label, 10)
    dist = np.asarray(ref_distances(code.code, model.database_codes)[0])
    rel = np.asarray(ref_relevant(np.asarray(query.label)[None], model.database_labels)[0])
    assert full.ap == pytest.approx(ref_ap(ref_ranked_relevance(dist.tolist(), rel.tolist())), abs=1e-12)
    assert f"**precision@10** {full.precision:.3f} · **AP** {full.ap:.3f} (tie-aware" in R.scores_text(full)
    unknown = R.rank_query(model, space, code, None, 10)
    assert "need the query's class" in R.scores_text(unknown)


# ------------------------------------------------------------------------------------- Hamming ball

def test_hamming_ball_holds_every_item_within_the_radius(zoo):
    model = zoo["itq-16"]
    query = R.query_from_set(model, 4)
    ball = R.hamming_ball(model, space_of(model), R.query_code(model, query), query.label, 3)
    d = hamming_distances(model.query_codes[4:5], model.database_codes)[0]
    assert sorted(ball.rows.tolist()) == np.flatnonzero(d <= 3).tolist()
    assert f"{len(ball.rows)} items within 3" in R.ball_note(ball)
    assert R.ball_note(ball).endswith("p_h2 (P@H<=2) is the mean precision of the Hamming ball of radius 2; "
                                      "an empty ball counts as 0.")
    assert np.array_equal(ball.distances, d[ball.rows])
    assert np.array_equal(ball.relevant, model.database_labels[ball.rows] == query.label)


def test_ball_table_counts_per_radius_and_class(zoo, digits):
    model = zoo["itq-16"]
    query = R.query_from_set(model, 4)
    ball = R.hamming_ball(model, space_of(model), R.query_code(model, query), query.label, 3)
    table = R.ball_table(ball, digits.class_names)
    assert table["distance"].tolist() == [0, 1, 2, 3]
    assert table["items at d"].sum() == len(ball.rows) == table["items within d"].iloc[-1]
    assert (table[list(digits.class_names)].sum(axis=1) == table["items at d"]).all()
    within2 = ball.distances <= 2
    if within2.any():
        assert table["precision within d"].iloc[2] == pytest.approx(ball.relevant[within2].mean(), abs=1e-3)


def test_ball_figure_stacks_one_bar_trace_per_class_present(zoo, digits):
    model = zoo["dpsh-16"]
    query = R.query_from_set(model, 0)
    ball = R.hamming_ball(model, space_of(model), R.query_code(model, query), query.label, 3)
    data = R.ball_grid_data(ball, digits.images, digits.class_names, per_radius=5)
    assert json.loads(json.dumps(data)) == data and len(data["groups"]) == 4
    assert all(len(g["tiles"]) <= 5 for g in data["groups"])
    fig = plots.ball_figure(R.class_counts_by_distance(ball, 10), digits.class_names)
    present = set(np.unique(ball.labels).tolist())
    assert {t.name for t in fig.data} == {digits.class_names[c] for c in present}
    assert sum(sum(t.y) for t in fig.data) == len(ball.rows) and fig.layout.barmode == "stack"
    d = hamming_distances(model.query_codes[:1], model.database_codes)[0]      # brute force, per class
    for trace in fig.data:
        c = digits.class_names.index(trace.name)
        assert list(trace.y) == [int(np.sum((d == r) & (model.database_labels == c))) for r in range(4)]


def test_pq_models_have_no_hamming_ball(zoo):
    model = zoo["dpq-16"]
    query = R.query_from_set(model, 0)
    with pytest.raises(HashvizError, match="dpq-16 has pq codes .* no Hamming ball"):
        R.hamming_ball(model, space_of(model), R.query_code(model, query), query.label)


# ------------------------------------------------------------------------------------- presentation

def test_grid_data_has_a_tile_per_result_with_mark_symbol_and_picture(zoo, digits):
    r = ranked(zoo["dpsh-16"], 3, 25, digits.images)
    data = R.grid_data(r, digits.images, digits.class_names, selected_rank=2)
    assert json.loads(json.dumps(data)) == data                  # plain JSON for the browser
    tiles = [t for g in data["groups"] for t in g["tiles"]]
    assert [t["rank"] for t in tiles] == list(range(1, 26)) and data["selected"] == 2
    for t, rel, row in zip(tiles, r.relevant, r.rows):
        assert (t["mark"], t["symbol"]) == (("right", "✓") if rel else ("wrong", "✗"))
        assert t["row"] == row and t["uri"].startswith("data:image/png;base64,")
    for g in data["groups"]:
        assert g["tied"] == bool(g["title"]) and (not g["tied"] or "order arbitrary" in g["title"])


def test_grid_data_puts_consecutive_untied_items_in_one_group():
    space = HammingSpace(np.zeros((9, 1), np.uint8), np.zeros(9, int), None, None)
    ranking = R.Ranking("m", space, np.arange(5), np.array([1, 2, 3, 3, 5]), np.zeros(5, int), None, None,
                        *tie_groups(np.array([1, 2, 3, 3, 5]), lambda d: 2 if d == 3 else 1), n_database=9)
    data = R.grid_data(ranking, None, ["a"])
    assert json.loads(json.dumps(data)) == data
    assert [len(g["tiles"]) for g in data["groups"]] == [2, 2, 1]
    assert [g["tied"] for g in data["groups"]] == [False, True, False]
    assert all(t["uri"] is None and t["symbol"] == "·" for g in data["groups"] for t in g["tiles"])


def test_bit_strip_marks_the_differing_bits_and_shows_pq_indices_unfilled():
    bits = HammingSpace(np.zeros((1, 2), np.uint8), np.zeros(1, int), None, None)
    a, b = np.array([[0b10100000, 0]], np.uint8), np.array([[0b00100001, 0]], np.uint8)
    strip = R.code_strip_html({"query": a, "#1 <b>": b}, bits, title="Query & #1")
    rows = strip.split("<tr>")[1:]
    assert len(rows) == 4 and "differs (2)" in rows[2] and "&lt;b&gt;" in rows[1] and "Query &amp; #1" in strip
    assert rows[2].count("×") == 2 and rows[0].count(">1</td>") == 2 and rows[0].count("<td") == 16
    assert rows[0].count("#0072B2") == 2 and rows[1].count("#0072B2") == 2 and ">bit</th>" in rows[3]
    pq_space = PQSpace(np.zeros((1, 2), np.uint8), np.zeros(1, int), None, None,
                       codebooks=np.zeros((2, 256, 1), np.float32))
    pq = R.code_strip_html({"query": np.array([7, 200], np.uint8), "#1": np.array([7, 9], np.uint8)}, pq_space)
    assert ">7</td>" in pq and ">200</td>" in pq and ">sub-space</th>" in pq and "differs (1)" in pq
    assert "#0072B2" not in pq                                  # a codeword index is no on/off cell


def test_item_note_names_the_item_and_the_bits_it_differs_in(zoo, digits):
    model = zoo["itq-16"]
    query = R.query_from_set(model, 2)
    code = R.query_code(model, query)
    r = R.rank_query(model, space_of(model), code, query.label, 30)
    i = int(np.argmax(r.distances))
    diff = np.flatnonzero(np.unpackbits(code.code.ravel()) != np.unpackbits(r.codes[i]))
    note = R.item_note(r, code, i, digits.class_names)
    assert note.startswith(f"#{i + 1} · label {digits.class_names[r.labels[i]]} · ")
    assert f"database index {r.rows[i]}" in note and len(diff) == r.distances[i]
    assert note.endswith(f"differs from the query in {len(diff)} bits: {', '.join(map(str, diff))}")


def test_item_detail_shows_the_item_large_with_its_bit_strip(zoo, digits):
    model = zoo["itq-16"]
    query = R.query_from_set(model, 2, digits.images)
    code = R.query_code(model, query)
    r = R.rank_query(model, space_of(model), code, query.label, 10)
    image, caption, strip = R.item_detail(r, code, 3, digits.images, digits.class_names)
    assert image.shape == (160, 160) and caption == f"#4 · {digits.class_names[r.labels[3]]}"
    assert R.item_note(r, code, 3, digits.class_names) in strip and "#4" in strip
    assert R.item_detail(r, code, 3, None, digits.class_names)[0] is None   # codes only: no picture


def test_choose_query_prefers_upload_then_database_row_then_query_row(zoo, digits):
    model = zoo["dpsh-16"]
    upload = R.decode_upload(encode(Image.fromarray(np.zeros((8, 8), np.uint8))), (8, 8), name="u.png")
    from_upload = R.choose_query(model, digits.images, upload=upload, upload_class=3, database_row=5, query_row=2)
    assert from_upload.row is None and int(from_upload.label) == 3 and "u.png" in from_upload.source
    from_db = R.choose_query(model, digits.images, database_row=5, query_row=2)
    assert from_db.db_row == 5 and from_db.row is None
    out_of_range = R.choose_query(model, digits.images, database_row=10**6, query_row=2)
    assert out_of_range.row == 2
    assert "Query code (16 bits)" in R.query_strip_html(model, R.query_code(model, from_db))
    pq = zoo["dpq-16"]
    assert "no bit strip" in R.query_strip_html(pq, R.query_code(pq, R.query_from_set(pq, 0)))


def test_label_text_and_class_names(zoo, imported, digits):
    names = ["cat", "dog", "owl"]
    assert R.label_text(np.int64(1), names) == "dog"
    assert R.label_text(np.array([1, 0, 1]), names) == "cat+owl"
    assert R.label_text(None, names) == "unknown" and R.label_text(7, names) == "7"
    assert class_names_of(zoo["itq-16"], digits)[:2] == ["0", "1"]
    assert class_names_of(imported) == ["0", "1", "2"]


def test_enlarge_and_png_data_uri():
    image = np.arange(64, dtype=np.uint8).reshape(8, 8)
    big = R.enlarge(image, 160)
    assert big.shape == (160, 160) and big[19, 19] == image[0, 0] and big[20, 20] == image[1, 1]
    decoded = Image.open(io.BytesIO(__import__("base64").b64decode(R.png_data_uri(image).split(",")[1])))
    assert np.array_equal(np.asarray(decoded), image)


# ------------------------------------------------------------------------------------- uploads

def encode(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_png_upload_becomes_the_dataset_shape():
    data = encode(Image.fromarray(np.full((40, 40), 200, np.uint8)))
    up = R.decode_upload(data, (8, 8), name="a.png")
    assert up.image.shape == (8, 8) and up.image.dtype == np.uint8
    assert any("resized 40×40 to 8×8" in n for n in up.notes)


def test_jpeg_colour_upload_is_made_grey_and_centre_cropped():
    rgb = np.zeros((60, 120, 3), np.uint8)
    rgb[:, 30:90] = (255, 0, 0)
    up = R.decode_upload(encode(Image.fromarray(rgb), "JPEG"), (8, 8))
    text = " ".join(up.notes)
    assert "JPEG" in text and "greyscale" in text and "centre-cropped 120×60 to 60×60" in text
    assert up.image.shape == (8, 8) and up.image.std() < 10   # the red middle only


def test_grey_upload_to_an_rgb_dataset_gets_three_channels():
    up = R.decode_upload(encode(Image.fromarray(np.zeros((32, 32), np.uint8))), (16, 16, 3))
    assert up.image.shape == (16, 16, 3) and any("to RGB" in n for n in up.notes)


def test_transparent_png_is_flattened():
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[4:12, 4:12] = (0, 0, 0, 255)           # black square on transparent
    up = R.decode_upload(encode(Image.fromarray(rgba, "RGBA")), (16, 16))
    assert any("flattened the transparency on white" in n for n in up.notes)
    assert up.image[0, 0] == 255 and up.image[8, 8] == 0


def test_cmyk_jpeg_is_converted():
    data = encode(Image.new("CMYK", (24, 24), (0, 0, 0, 0)), "JPEG")
    up = R.decode_upload(data, (8, 8))
    assert any("CMYK" in n for n in up.notes) and up.image.shape == (8, 8)


def test_16_bit_png_is_scaled_to_8_bits():
    values = np.full((10, 10), 65535, np.uint16)
    values[:, :5] = 32896
    data = encode(Image.fromarray(values))
    up = R.decode_upload(data, (10, 10))
    assert any("8 bits" in n for n in up.notes)
    assert up.image[0, 9] == 255 and up.image[0, 0] == 128


def test_palette_png_is_expanded():
    pic = Image.fromarray(np.full((8, 8), 120, np.uint8)).convert("P")
    up = R.decode_upload(encode(pic), (8, 8))
    assert any("palette" in n for n in up.notes)


def test_light_background_is_inverted_for_a_dark_background_dataset():
    pic = np.full((16, 16), 255, np.uint8)
    pic[4:12, 7:9] = 0                                   # a dark stroke on white
    up = R.decode_upload(encode(Image.fromarray(pic)), (16, 16), dark=True)
    assert any(n.startswith("inverted") for n in up.notes) and up.image[0, 0] == 0 and up.image[8, 8] == 255
    kept = R.decode_upload(encode(Image.fromarray(pic)), (16, 16), dark=True, invert=False)
    assert kept.image[0, 0] == 255


def test_dark_background_of_datasets(digits):
    assert R.dark_background(digits.images)
    assert not R.dark_background(np.full((5, 8, 8), 250, np.uint8))


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"this is not an image at all", "not a PNG or JPEG"),
])
def test_bad_uploads_are_refused_with_a_message(data, message):
    with pytest.raises(HashvizError, match=message):
        R.decode_upload(data, (8, 8))


def test_truncated_png_is_refused():
    data = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)))
    with pytest.raises(HashvizError, match="truncated or damaged|not a PNG or JPEG"):
        R.decode_upload(data[: len(data) // 2], (8, 8))


def test_gif_and_huge_images_are_refused():
    with pytest.raises(HashvizError, match="upload a PNG or JPEG"):
        R.decode_upload(encode(Image.new("L", (8, 8)), "GIF"), (8, 8))
    huge = encode(Image.new("1", (8000, 6000)), optimize=False)
    with pytest.raises(HashvizError, match="48 megapixels"):
        R.decode_upload(huge, (8, 8))


# ------------------------------------------------------------------------------------- links

def test_url_state_keeps_what_is_valid_and_says_what_is_not():
    names = ["dpsh-16", "csq-16", "itq-16"]
    state = R.parse_url_state({"query": "12", "n": "500", "compare": "dpsh-16,nope,csq-16", "view": "side-by-side"},
                              100, names)
    assert (state.query, state.n, state.compare, state.view) == (12, 100, ["dpsh-16", "csq-16"], "side-by-side")
    assert len(state.warnings) == 1 and "nope" in state.warnings[0]
    bad = R.parse_url_state({"query": "100", "n": "x", "view": "grid"}, 100, names)
    assert (bad.query, bad.n, bad.view) == (None, None, None) and len(bad.warnings) == 3
    assert R.parse_url_state({}, 100, names).warnings == []
    assert state.given() == {"query": 12, "n": 100, "view": "side-by-side", "compare": ["dpsh-16", "csq-16"]}
    assert bad.given() == {}


def test_url_params_round_trip():
    params = R.url_params("csq-16", 7, 30, "side-by-side", ["csq-16", "dpsh-16"])
    assert params == {"model": "csq-16", "query": "7", "n": "30", "view": "side-by-side", "compare": "csq-16,dpsh-16"}
    state = R.parse_url_state(params, 100, ["csq-16", "dpsh-16"])
    assert (state.query, state.n, state.view, state.compare) == (7, 30, "side-by-side", ["csq-16", "dpsh-16"])
    assert "query" not in R.url_params("csq-16", None, 30, "top-n", ["a", "b"])


def test_comparison_models_share_the_dataset_and_default_to_another_family(zoo, imported):
    models = list(zoo.values()) + [imported]
    choices = R.comparable_models(zoo["csq-16"], models)
    assert imported not in choices and len(choices) == 5
    assert R.default_comparison(zoo["csq-16"], choices) == ["csq-16", "dpsh-16"]
    assert R.default_comparison(zoo["dpsh-16"], choices) == ["dpsh-16", "csq-16"]
    assert R.comparable_models(imported, models) == [imported]
    # what the page remembers wins while still comparable; else the default pair
    names, shown = R.comparison_choice(zoo["csq-16"], models, ["itq-16", "gone-32"])
    assert len(names) == 5 and shown == ["itq-16"]
    assert R.comparison_choice(zoo["csq-16"], models, [])[1] == ["csq-16", "dpsh-16"]
