"""Train a tiny model from the Train page in real Chromium, then find it in the sidebar's model picker."""

import json
import re
import shutil

import pytest
from playwright.sync_api import expect

from browser_support import chromium_page, running_app, screenshot_on_failure, wait_for_app

pytestmark = pytest.mark.browser

NEW = "dpsh-16-digits"


def test_train_page_trains_digits_and_the_model_reaches_the_picker(tiny_zoo, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(tiny_zoo, root)
    with running_app(root) as (url, _proc, _cold), chromium_page() as page:
        try:
            page.goto(url)
            wait_for_app(page)
            page.locator('[data-testid="stSidebarNav"]').get_by_text("Train", exact=True).click()
            page.get_by_role("heading", name="Train a model").wait_for(timeout=60000)
            wait_for_app(page)

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
