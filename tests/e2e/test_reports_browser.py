"""Reports as a person sees them: headless Chromium renders the evaluation and profile reports
of real data (Made-With-ML text, titanic) without console errors or any network request.

A full-page screenshot of each report is saved in the test's tmp folder. Without Chromium
the test is skipped, except in CI (CI=true), where `.ci/run` installs it and it must run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_file, write_project
from tests.integration.conftest import cli

pytestmark = [pytest.mark.e2e, pytest.mark.shared_data]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROJECTS: dict[str, dict[str, Any]] = {
    "madewithml": {
        "name": "tags",
        "data": {
            "source": "madewithml_dataset.csv",
            "target": "tag",
            "columns": {"text": ["title", "description"], "ignore": ["created_on", "id"]},
        },
        "models": {"candidates": ["logistic_regression"]},
        "tuning": {"budget": {"trials": 3}},  # the reports are under test, not the search
        "evaluation": {
            "slices": {"short_titles": "title.str.len() < 20"},
            "calibration": "auto",
            "threshold": {"min_confidence": 0.5, "fallback_label": "other"},
        },
        "behavioral": [
            {"kind": "perturbation", "columns": ["title"], "noise": "typos", "min_agreement": 0.9},
            {
                "kind": "examples",
                "rows": [
                    {
                        "title": "Transformers for NER",
                        "description": "named entity recognition with BERT language models",
                        "expect": "natural-language-processing",
                    }
                ],
            },
        ],
    },
    "titanic": {
        "name": "titanic",
        "data": {
            "source": "titanic_train.csv",
            "target": "Survived",
            "columns": {"text": ["Name"], "ignore": ["PassengerId", "Ticket"]},
        },
        "models": {"candidates": ["logistic_regression"]},
        "tuning": {"budget": {"trials": 3}},
        "evaluation": {"slices": {"children": "Age < 12", "seniors": "Age >= 65"}},
        "behavioral": [
            {
                "kind": "directional",
                "column": "Fare",
                "change": "+50%",
                "expect": "increase",
                "label": 1,
            },
        ],
    },
}


@pytest.fixture(scope="module")
def browser() -> Any:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI; .ci/run installs the Debian package")
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium to render the reports")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


def render(browser: Any, page_file: Path, screenshot: Path) -> dict[str, Any]:
    """Open the file; collect console errors, page errors, requests and image sizes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen: dict[str, list[str]] = {"errors": [], "requests": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.goto(page_file.as_uri(), wait_until="load", timeout=60_000)
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.naturalWidth])")
    page.screenshot(path=str(screenshot), full_page=True)
    headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
    context.close()
    return {**seen, "images": images, "headings": headings}


@pytest.mark.slow  # madewithml: a minute on 2 cores
@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_reports_render_in_chromium_without_errors(name: str, browser: Any, tmp_path: Path) -> None:
    body = dict(PROJECTS[name])
    body["data"] = {**body["data"], "source": str(shared_file(body["data"]["source"]))}
    config = write_project(tmp_path / name, body)
    code, _, stderr = cli("run", "-c", str(config))
    assert code == 0, stderr
    evaluation = next((tmp_path / name / "reports").glob("evaluation-*.html"))
    code, stdout, stderr = cli("profile", "-c", str(config))
    assert code == 0, stderr
    profile = Path(stdout.strip())

    for kind, report in (("evaluation", evaluation), ("profile", profile)):
        shown = render(browser, report, tmp_path / f"{name}-{kind}.png")

        assert shown["errors"] == [], shown["errors"]
        assert shown["requests"] == [report.as_uri()], "the report loaded something else"
        assert shown["images"] and all(width > 0 for _, width in shown["images"]), shown["images"]
        assert (tmp_path / f"{name}-{kind}.png").stat().st_size > 50_000
    evaluation_headings = render(browser, evaluation, tmp_path / "again.png")["headings"]
    assert any(h.startswith("Slices") for h in evaluation_headings)
    assert "Behavioral tests" in evaluation_headings
