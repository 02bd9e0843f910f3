"""The Taxonomy page's content: the survey's text (assets/taxonomy/*.md, one file per family plus
survey.md) joined with the live method registry and the models in the root.

Asset format (plain markdown, parsed here, no YAML): the first line is ``# Title``; every
``## Section`` heading starts a section whose body runs to the next heading. A family file needs
the sections FAMILY_SECTIONS; in "Loss" every paragraph (blank-line separated) is one LaTeX
equation (for st.latex), and "Methods in the survey" is a comma-separated list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd

from hashviz.errors import HashvizError
from hashviz.methods import FAMILIES, FAMILY_TITLES, family_info, list_methods
from hashviz.resources import taxonomy_assets
from hashviz.zoo import ModelDir

FAMILY_SECTIONS = ("journal group", "similarity preserved", "loss", "reading the loss", "methods in the survey")
SURVEY_SECTIONS = ("overview", "journal version", "notation")
SURVEY_ID = "arXiv 2003.03369"

__all__ = ["FamilyText", "Taxonomy", "parse_sections", "load_taxonomy", "family_methods",
           "family_models", "calibration_line", "SURVEY_ID", "Direction", "DIRECTION_FAMILIES", "new_directions"]


@dataclass(frozen=True)
class FamilyText:
    key: str                   # a hashviz.methods.FAMILIES entry
    title: str
    journal_group: str
    similarity: str            # markdown
    equations: tuple[str, ...]  # LaTeX, one per st.latex
    reading: str               # markdown
    survey_methods: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    title: str
    overview: str
    journal_version: str
    notation: str
    families: tuple[FamilyText, ...]   # in FAMILIES order, shallow last

    def family(self, key: str) -> FamilyText:
        for f in self.families:
            if f.key == key:
                return f
        raise HashvizError(f"no taxonomy text for family {key!r}")

    def tab_labels(self) -> list[str]:
        """"1. Pairwise similarity preserving", ...; the shallow baselines (the registry's families
        that are not deep) read "Contrast: ..."."""
        return [f"{i}. {f.title}" if family_info(f.key).deep else f"Contrast: {f.title}"
                for i, f in enumerate(self.families, start=1)]


def parse_sections(text: str, source: str = "text") -> tuple[str, dict[str, str]]:
    """(title, {lower-case section name: body}) of a '# Title' + '## Section' markdown text."""
    lines = text.strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise HashvizError(f"{source} must start with a '# Title' line")
    title, sections, current = lines[0][2:].strip(), {}, None
    for line in lines[1:]:
        if line.startswith("## "):
            current = line[3:].strip().lower()
            if current in sections:
                raise HashvizError(f"{source}: section {current!r} appears twice")
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
        elif line.strip():
            raise HashvizError(f"{source}: text before the first '## Section' heading")
    return title, {k: "\n".join(v).strip() for k, v in sections.items()}


def _require(sections: dict, names: Iterable[str], source: str) -> None:
    missing = [n for n in names if not sections.get(n)]
    if missing:
        raise HashvizError(f"{source} lacks the section(s) {', '.join(missing)}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HashvizError(f"cannot read the taxonomy text {path}: {exc.strerror or exc}") from None


def load_taxonomy(assets: Path | None = None) -> Taxonomy:
    """Read survey.md and one <family>.md per hashviz family from `assets` (default: the installed
    assets/taxonomy/); HashvizError names what is missing."""
    assets = Path(assets or taxonomy_assets())
    title, survey = parse_sections(_read(assets / "survey.md"), "survey.md")
    _require(survey, SURVEY_SECTIONS, "survey.md")
    families = []
    for key in FAMILIES:
        source = f"{key}.md"
        ftitle, sec = parse_sections(_read(assets / source), source)
        _require(sec, FAMILY_SECTIONS, source)
        equations = tuple(p.strip() for p in sec["loss"].split("\n\n") if p.strip())
        methods = tuple(m.strip() for m in sec["methods in the survey"].split(",") if m.strip())
        families.append(FamilyText(key, ftitle or FAMILY_TITLES[key], sec["journal group"],
                                   sec["similarity preserved"], equations, sec["reading the loss"], methods))
    return Taxonomy(title, survey["overview"], survey["journal version"], survey["notation"], tuple(families))


def family_methods(family: str) -> pd.DataFrame:
    """The registry's methods of one family (live): method, paper, code type, summary, recipe."""
    if family not in FAMILIES:
        raise HashvizError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    rows = []
    for info in list_methods(family):
        recipe = info.recipe
        rows.append({"method": info.name, "paper": info.paper or "—", "code type": info.code_type,
                     "summary": info.summary,
                     "recipe": ", ".join(f"{k} {v:g}" for k, v in recipe.items()) if recipe else "closed form"})
    return pd.DataFrame(rows, columns=["method", "paper", "code type", "summary", "recipe"])


def calibration_line(family: str) -> str | None:
    """One line on the family's calibration entries (the registry's calibration=True methods) and
    what they mean for reading the numbers; None when the family has none."""
    from hashviz.leaderboard import CALIBRATION_READING
    names = [info.name for info in list_methods(family) if info.calibration]
    return f"**Calibration row** ({', '.join(names)}): {CALIBRATION_READING}" if names else None


def family_models(models: Iterable[ModelDir], family: str) -> pd.DataFrame:
    """Leaderboard rows (hashviz.leaderboard.leaderboard_table) of the models of one family."""
    from hashviz.leaderboard import leaderboard_table
    table = leaderboard_table([m for m in models if m.family == family])
    return table.drop(columns=["family"])


# ---------------------------------------------------------------- new directions (directions.md)

# Section title of directions.md -> the registry family that makes it live (None: not implemented).
DIRECTION_FAMILIES = {"Unsupervised deep hashing": "unsupervised", "Ensemble learning": "ensemble",
                      "Training strategies": None, "GAN-based hashing": None, "Multimodal hashing": None}


@dataclass(frozen=True)
class Direction:
    title: str
    text: str                         # markdown: what it is, representative methods, hashviz's status
    family: str | None                # the registry family when hashviz implements it
    methods: pd.DataFrame | None      # family_methods(family) when the family is registered
    models: pd.DataFrame | None       # family_models(...) of the models root (may be empty)

    @property
    def live(self) -> bool:
        return self.methods is not None

    def status(self) -> str:
        """One line saying what hashviz has of this direction right now."""
        if self.family is None:
            return "Not implemented in hashviz (why: above)."
        if self.methods is None:
            return f"The family `{self.family}` is not in this build's method registry."
        if self.models is None or self.models.empty:
            return (f"No `{self.family}` model in the models root yet: train one on the Train page or with "
                    f"`hashviz train --method {self.methods['method'].iloc[0]} --bits 32 --out DIR`.")
        return f"{len(self.models)} `{self.family}` model(s) in the models root."


def new_directions(models: Iterable[ModelDir], assets: Path | None = None) -> tuple[str, list[Direction]]:
    """(overview, directions) from directions.md, each live one joined with the registry and the
    models of its family; a family this build does not register degrades to text only."""
    models = list(models)
    _title, sections = parse_sections(_read(Path(assets or taxonomy_assets()) / "directions.md"), "directions.md")
    _require(sections, ("overview", *map(str.lower, DIRECTION_FAMILIES)), "directions.md")
    directions = []
    for title, family in DIRECTION_FAMILIES.items():
        registered = family is not None and family in FAMILIES and list_methods(family)
        directions.append(Direction(title, sections[title.lower()], family,
                                    family_methods(family) if registered else None,
                                    family_models(models, family) if registered else None))
    return sections["overview"], directions
