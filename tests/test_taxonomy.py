"""hashviz.taxonomy: the survey's text in assets/ joined with the live registry and the models."""

import shutil

import pytest

from hashviz.errors import HashvizError
from hashviz.methods import FAMILIES, list_methods
from hashviz.resources import taxonomy_assets
from hashviz.taxonomy import family_methods, family_models, load_taxonomy, parse_sections
from hashviz.zoo import discover


def test_every_family_has_its_text_loss_and_survey_methods():
    tax = load_taxonomy()
    assert [f.key for f in tax.families] == list(FAMILIES)
    for fam in tax.families:
        assert fam.title and fam.similarity and fam.reading and fam.journal_group
        assert fam.equations and all("\\" in eq for eq in fam.equations)   # LaTeX, one per st.latex
        assert all(eq.count("{") == eq.count("}") for eq in fam.equations)
    assert tax.family("pairwise").survey_methods == ("DPSH", "HashNet", "DSH", "DHN", "DCH")
    assert set(tax.family("quantization").survey_methods) == {"DQN", "DPQ", "DTQ", "DVSQ"}
    assert {"LSH", "PCAH", "ITQ", "SH"} == set(tax.family("shallow").survey_methods)


def test_survey_text_states_the_journal_regrouping():
    tax = load_taxonomy()
    for group in ("pairwise", "ranking-based", "pointwise", "quantization"):
        assert group in tax.journal_version
    assert "journal version" in tax.journal_version.lower()
    assert tax.family("classification").journal_group == "pointwise methods"


def test_family_methods_come_live_from_the_registry():
    for family in FAMILIES:
        table = family_methods(family)
        assert list(table["method"]) == [m.name for m in list_methods(family)]
    pairwise = family_methods("pairwise").set_index("method")
    assert pairwise.loc["dpsh", "paper"] == "arXiv:1511.03855" and "epochs" in pairwise.loc["dpsh", "recipe"]
    assert set(family_methods("shallow")["recipe"]) == {"closed form"}
    with pytest.raises(HashvizError):
        family_methods("nonsense")


def test_family_models_lists_only_that_family(tiny_zoo):
    models = discover(tiny_zoo)[0]
    assert list(family_models(models, "shallow")["model"]) == ["itq-16", "lsh-16"]
    assert family_models(models, "multiwise").empty
    assert "family" not in family_models(models, "pairwise").columns


def test_parse_sections_and_missing_assets_are_errors(tmp_path):
    title, sections = parse_sections("# T\n## Loss\na\n\nb\n## Other\nc\n")
    assert title == "T" and sections == {"loss": "a\n\nb", "other": "c"}
    with pytest.raises(HashvizError, match="Title"):
        parse_sections("no title")
    with pytest.raises(HashvizError, match="twice"):
        parse_sections("# T\n## a\nx\n## a\ny")
    shutil.copytree(taxonomy_assets(), tmp_path / "tax")
    (tmp_path / "tax" / "implicit.md").unlink()
    with pytest.raises(HashvizError, match="implicit.md"):
        load_taxonomy(tmp_path / "tax")
    (tmp_path / "tax" / "implicit.md").write_text("# Implicit\n## Loss\nx\n")
    with pytest.raises(HashvizError, match="similarity preserved"):
        load_taxonomy(tmp_path / "tax")
