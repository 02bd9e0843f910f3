"""Which models can sit beside the chosen one in the side-by-side view, and the pair shown first."""

from __future__ import annotations

from typing import Sequence

from hashviz.data.images import image_set_key
from hashviz.methods.registry import TEACHING_ORDER


def comparable_models(main, models: Sequence) -> list:
    """Models that can rank the same query: same images by the same ids (codes-only models: only
    `main` itself)."""
    return [m for m in models if m is main or m.name == main.name
            or (image_set_key(m) == image_set_key(main) and m.has_images and main.has_images)]


def comparison_choice(main, models: Sequence, remembered: Sequence[str]) -> tuple[list[str], list[str]]:
    """(names that can sit beside `main`, the ones to show first): those remembered that are still
    comparable, else the default pair."""
    choices = comparable_models(main, models)
    names = [m.name for m in choices]
    picked = [name for name in remembered if name in names]
    return names, picked or default_comparison(main, choices)


def default_comparison(main, candidates: Sequence) -> list[str]:
    """`main` and one more model for two columns: of another family, preferring pairwise then
    classification (the contrast a lesson starts with), else simply the next model."""
    others = [m for m in candidates if m.name != main.name]
    rank = lambda m: TEACHING_ORDER.index(m.family) if m.family in TEACHING_ORDER else len(TEACHING_ORDER)  # noqa: E731
    other_family = sorted((m for m in others if m.family != main.family), key=rank)
    pick = other_family[0] if other_family else (others[0] if others else None)
    return [main.name] + ([pick.name] if pick is not None else [])
