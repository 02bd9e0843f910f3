"""Train a tiny model from the Train page in real Chromium, then find it in the sidebar's model picker."""

import json
import re
import shutil

import pytest
from playwright.sync_api import expect

from browser_support import chromium_page, running_app, screenshot_on_failure, wait_for_app

pytestmark = pytest.mark.browser

NEW = "dpsh-16-digits"


def open_train_page(page, url: str) -> None:
    """The app, then its Train page through the sidebar navigation, as a visitor gets there."""
    page.goto(url)
    wait_for_app(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Train", exact=True).click()
    page.get_by_role("heading", name="Train a model").wait_for(timeout=60000)
    wait_for_app(page)


def test_train_page_trains_digits_and_the_model_reaches_the_picker(tiny_zoo, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(tiny_zoo, root)
    with running_app(root) as (url, _proc, _cold), chromium_page() as page:
        try:
            open_train_page(page, url)

            page.get_by_role("combobox", name="Method (grouped by family)").click()
            page.get_by_role("option", name=re.compile(r"· dpsh \(")).click()
            expect(page.get_by_text("DPSH, deep pairwise-supervised hashing")).to_be_visible(timeout=30000)
            name = page.get_by_role("textbox", name="Model name")
            expect(name).to_have_attribute("placeholder", "dpsh-32")
            page.get_by_text("sklearn digits", exact=False).click()
            expect(name).to_have_attribute("placeholder", "dpsh-32-digits", timeout=30000)
            slider = page.get_by_role("slider", name="Bits")
            slider.focus()
            slider.press("Home")                    # 16 bits: the first stop
            expect(name).to_have_attribute("placeholder", NEW, timeout=30000)
            epochs = page.get_by_role("spinbutton", name="Epochs")
            epochs.fill("1")
            epochs.press("Enter")
            wait_for_app(page)
            expect(epochs).to_have_value("1")

            page.get_by_role("button", name="Start training").click()
            page.get_by_text(f"Saved {NEW}", exact=False).wait_for(timeout=240000)
            assert not page.locator('[data-testid="stException"]').count()

            sidebar = page.locator('[data-testid="stSidebar"]')
            sidebar.get_by_role("combobox", name="Model").click()
            page.get_by_role("option", name=re.compile(rf"^{re.escape(NEW)} \(dpsh, 16 bits")).wait_for(timeout=30000)
            page.keyboard.press("Escape")
            page.get_by_role("button", name=f"Show {NEW} in the sidebar").click()
            picker = sidebar.get_by_role("combobox", name="Model")
            expect(picker).to_have_value(re.compile(rf"^{re.escape(NEW)} \(dpsh, 16 bits"), timeout=60000)
            history = json.loads((root / NEW / "config.json").read_text())["history"]
            assert [h["epoch"] for h in history] == [1]
        except Exception:
            screenshot_on_failure(page, "train")
            raise


@pytest.mark.timeout(1500)     # a whole fmnist-1k run with encoding: seconds idle, minutes on a loaded machine
def test_lecture_mode_trains_a_quick_model_with_a_live_curve(tiny_zoo, tmp_path):
    """The switch keeps the quick-recipe methods, says what the quick recipe gives up, draws the
    curve while the run goes on, and saves a model trained with the quick recipe."""
    from hashviz.methods import method_info
    from hashviz.methods.registry import quick_methods
    root = tmp_path / "models"
    shutil.copytree(tiny_zoo, root)
    quick = method_info("greedyhash").quick
    new = "greedyhash-32-quick"
    with running_app(root) as (url, _proc, _cold), chromium_page() as page:
        try:
            open_train_page(page, url)
            page.get_by_text("Lecture mode: a quick 32-bit model", exact=False).click()
            wait_for_app(page)
            note = page.get_by_text(f"Lecture mode trains greedyhash for {quick['epochs']} epochs instead of 40",
                                    exact=False)
            for _ in range(10):     # a rerun that the switch started may close the list as it opens
                page.get_by_role("combobox", name="Method (grouped by family)").click()
                try:
                    expect(page.get_by_role("option")).to_have_count(len(quick_methods()), timeout=3000)
                    break
                except AssertionError:
                    page.keyboard.press("Escape")
                    wait_for_app(page)
            options = page.get_by_role("option").all_inner_texts()
            assert sorted(o.split("· ")[1].split(" (")[0] for o in options) == sorted(quick_methods())
            page.get_by_role("option", name=re.compile(r"· greedyhash \(")).click()
            expect(note).to_be_visible(timeout=30000)
            expect(page.get_by_text("gives up quality for time", exact=False)).to_be_visible()
            expect(page.get_by_role("textbox", name="Model name")).to_have_attribute("placeholder", new, timeout=30000)
            expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value(str(quick["epochs"]))

            page.get_by_role("button", name="Start training").click()
            chart = page.locator('[data-testid="stPlotlyChart"]').first
            chart.wait_for(timeout=240000)
            # drawn while the run goes on: the cancel button is still there (encoding 69,000 images follows)
            assert page.get_by_role("button", name="Cancel training").count() == 1
            page.get_by_text(f"Saved {new}", exact=False).wait_for(timeout=1300000)
            assert not page.locator('[data-testid="stException"]').count()
            config = json.loads((root / new / "config.json").read_text())
            assert config["spec"]["quick"] is True and config["bits"] == 32
            assert (config["backbone"], config["width"]) == (quick["backbone"], quick["width"])
            assert len(config["history"]) == quick["epochs"]
            assert 0 < config["metrics"]["map_all"] <= 1
        except Exception:
            screenshot_on_failure(page, "train-lecture")
            raise
