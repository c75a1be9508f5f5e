"""The web page in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against a real
uvicorn server.  Screenshots are kept in ``test-artifacts/`` (or ``$WHENCE_TEST_ARTIFACTS``)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.servers import serve_in_thread
from whence.api.app import create_app
from whence.api.settings import Settings
from whence.api.state import State
from whence.index import ingest
from whence.index.stores import open_store

ARTIFACTS = Path(
    os.environ.get("WHENCE_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts")
)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no Chromium found: install Debian's chromium package (scripts/setup-browser)")


@pytest.fixture(scope="module")
def site(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("web")
    s = Settings(index=str(built_index), state=str(folder / "state.sqlite"))
    state = State(s.state)
    _, key = state.create_key("browser")
    state.close()
    with serve_in_thread(create_app(s)) as url:
        yield url, key


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Page]:
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    pg.close()


def test_paste_a_snippet_and_see_where_it_came_from(page: Page, site: tuple[str, str], corpus: Path) -> None:
    url, key = site
    snippet = "".join((corpus / "difflib.py").read_text().splitlines(keepends=True)[409:445])
    page.goto(url + "/")
    page.fill("#api-key", key)
    page.dispatch_event("#api-key", "change")
    page.fill("#code", snippet)
    page.click("#search-btn")
    page.wait_for_selector(".match")
    assert page.inner_text("#verdict").startswith("verdict: verbatim")
    first = page.locator(".match").first
    link = first.locator("a.source-link")
    assert link.inner_text() == "python/cpython/difflib.py"
    assert "difflib.py#L" in (link.get_attribute("href") or "")
    assert (
        "PSF-2.0" in first.locator(".badge").inner_text()
        and "permissive" in first.locator(".badge").inner_text()
    )
    # Side by side: the matched lines are highlighted in both panes, and they hold the same code.
    panes = first.locator(".pane")
    assert panes.count() == 2
    query_hits = panes.nth(0).locator(".line.hit")
    source_hits = panes.nth(1).locator(".line.hit")
    assert query_hits.count() >= 30 and source_hits.count() >= 30
    q_text = query_hits.nth(5).inner_text().split(maxsplit=1)[1]
    assert any(
        q_text.strip() == source_hits.nth(i).inner_text().split(maxsplit=1)[-1].strip() for i in range(10)
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search-results.png"), full_page=True)
    # The key is kept for the next visit.
    page.reload()
    assert page.input_value("#api-key") == key


def test_errors_are_shown(page: Page, site: tuple[str, str]) -> None:
    url, _ = site
    page.goto(url + "/")
    page.fill("#api-key", "whk_wrong_key")
    page.fill("#code", "x = 1")
    page.click("#search-btn")
    expect(page.locator("#error")).not_to_be_empty(timeout=30_000)  # no eval: the page's CSP forbids it
    assert "unknown API key" in page.inner_text("#error")


def test_only_http_urls_from_the_index_become_links(
    page: Page, browser: Any, corpus: Path, tmp_path: Path
) -> None:
    """A record whose url is ``javascript:alert(1)`` is shown as plain text, never as a link's href; and
    the page runs under its Content-Security-Policy without a violation."""
    text = (corpus / "difflib.py").read_text()
    src = tmp_path / "evil.jsonl"
    rec = {"content": text, "repo_name": "evil/repo", "path": "difflib.py", "url": "javascript:alert(1)",
           "license_type": "permissive", "detected_licenses": ["PSF-2.0"]}  # fmt: skip
    src.write_text(json.dumps(rec) + "\n")
    index = tmp_path / "evil.sqlite"
    with open_store(index, create=True) as store:
        ingest.build(store, ingest.sources([src], license_type="permissive"), workers=1)
    s = Settings(index=str(index), state=str(tmp_path / "state.sqlite"), search_processes=0)
    state = State(s.state)
    _, key = state.create_key("browser")
    state.close()
    problems: list[str] = []
    # A policy violation is logged as an error naming the Content Security Policy (the favicon's 404 is not).
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append("dialog: " + d.message), d.dismiss()))
    with serve_in_thread(create_app(s)) as url:
        page.goto(url + "/")
        page.fill("#api-key", key)
        page.fill("#code", "".join(text.splitlines(keepends=True)[409:445]))
        page.click("#search-btn")
        page.wait_for_selector(".match")
        first = page.locator(".match").first
        assert first.locator(".source-link").inner_text() == "evil/repo/difflib.py"
        assert first.locator("a").count() == 0
        hrefs = page.eval_on_selector_all("[href]", "els => els.map((e) => e.getAttribute('href'))")
        assert not any(h.strip().lower().startswith("javascript:") for h in hrefs)
        first.locator(".source-link").click()
    assert problems == []


def test_docs_render_from_the_package_alone(page: Page, site: tuple[str, str]) -> None:
    """``/docs`` draws the API from files the server itself serves: no request leaves it, and its
    Content-Security-Policy is not violated."""
    url, _ = site
    elsewhere: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith(url) else None)
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url + "/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 5 and "/v1/search" in page.inner_text("#swagger-ui")
    assert elsewhere == [] and problems == []
