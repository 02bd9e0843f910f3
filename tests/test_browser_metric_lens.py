"""Evaluate's Metric lens tab in real headless Chromium: the headline follows the preset and the
toggles, with the numbers hashviz.metric_rules gives for the same codes."""

import re

import pytest
from playwright.sync_api import expect

from browser_support import chromium_page, running_app, screenshot_on_failure, wait_for_app
from hashviz import metric_rules as mr
from hashviz.zoo import load_model_dir

pytestmark = pytest.mark.browser


def test_metric_lens_tab_follows_presets_and_toggles(tiny_zoo):
    with running_app(tiny_zoo) as (url, _proc, _cold), chromium_page() as page:
        try:
            page.goto(url)
            page.get_by_text("Models root").first.wait_for(timeout=60000)
            wait_for_app(page)
            page.locator('[data-testid="stSidebarNav"]').get_by_text("Evaluate", exact=True).click()
            page.get_by_role("heading", name="Evaluate").wait_for(timeout=60000)
            wait_for_app(page)
            page.get_by_role("tab", name="Metric lens").click()
            lens = page.get_by_role("tabpanel", name="Metric lens")
            expect(lens.get_by_text("(the sidebar's model)", exact=False)).to_be_visible(timeout=60000)
            wait_for_app(page)
            model = load_model_dir(tiny_zoo / lens.locator("strong").first.inner_text())   # the sidebar's
            assert model.code_type == "binary"
            expected = {key: f"{mr.score_model(model, p.rule).value:.4f}" for key, p in mr.PRESETS.items()}
            worst = f"{mr.score_model(model, mr.MetricRule(tie='worst')).value:.4f}"
            expect(lens.locator('[data-testid="stMetricValue"]')).to_have_text(expected["hashviz"], timeout=30000)
            text = lens.inner_text()
            assert "ties broken by database index" in text and "Tie range under this rule" in text

            lens.get_by_role("combobox", name="Preset (a published rule)").click()
            page.get_by_role("option", name="DeepHash-pytorch CalcTopMap").click()
            expect(lens.locator('[data-testid="stMetricValue"]')).to_have_text(expected["deephash-pytorch"],
                                                                             timeout=30000)
            wait_for_app(page)
            text = lens.inner_text()
            assert "swuxyj/DeepHash-pytorch" in text and "[0:-1]" in text
            assert lens.get_by_role("checkbox", name=re.compile(r"Slice \[0:-1\]")).is_checked()

            lens.get_by_role("combobox", name="Preset (a published rule)").click()
            page.get_by_role("option", name="11-point interpolated precision").click()
            expect(lens.locator('[data-testid="stMetricValue"]')).to_have_text(expected["11-point"], timeout=30000)
            wait_for_app(page)

            # a toggle changes the headline at once and the preset becomes "custom"
            lens.locator('[data-testid="stRadio"]').filter(has_text="Measure").get_by_text("AP", exact=True).click()
            expect(lens.locator('[data-testid="stMetricValue"]')).to_have_text(expected["hashviz"], timeout=30000)
            lens.locator('[data-testid="stRadio"]').filter(has_text="Tie order").get_by_text(
                "worst order", exact=True).click()
            expect(lens.locator('[data-testid="stMetricValue"]')).to_have_text(worst, timeout=30000)
            wait_for_app(page)
            expect(lens.get_by_role("combobox", name="Preset (a published rule)")).to_have_value(
                "custom (the toggles below)", timeout=10000)
            assert "lowest value over all orders" in lens.inner_text()
        except Exception:
            screenshot_on_failure(page, "metric_lens")
            raise
