"""The web page in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against a real
uvicorn server.  Screenshots are kept in ``test-artifacts/`` (or ``$WHENCE_TEST_ARTIFACTS``)."""

from __future__ import annotations

import json
import os
import re
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


# What a pane shows: its matched lines, and which of them are inside its visible area (below its sticky
# title, above its bottom edge), read from the page's layout.
_IN_VIEW = """(pane) => {
  const box = pane.getBoundingClientRect();
  const top = pane.querySelector("h4").getBoundingClientRect().bottom;
  const hits = Array.from(pane.querySelectorAll(".line.hit"));
  const seen = hits.filter((r) => {
    const b = r.getBoundingClientRect();
    return b.top >= top - 0.5 && b.bottom <= box.top + pane.clientHeight + 0.5;
  });
  return {hits: hits.length, seen: seen.map((r) => Number(r.dataset.line)), scrollTop: pane.scrollTop,
          rows: Math.floor((box.top + pane.clientHeight - top) / hits[0].getBoundingClientRect().height)};
}"""


def _search(page: Page, url: str, key: str, code: str) -> None:
    page.goto(url + "/")
    page.fill("#api-key", key)
    page.fill("#code", code)
    page.click("#search-btn")
    page.wait_for_selector(".match")


@pytest.mark.parametrize("width", [1280, 420])
def test_the_panes_show_the_matched_lines(
    browser: Any, site: tuple[str, str], corpus: Path, width: int
) -> None:
    """A copy at lines 33-68 of the snippet: both panes open on the matched lines (the query pane used to
    show lines 1-23), at a desktop width and at a phone's; the key field stays on the screen."""
    url, key = site
    own = "".join(f"total_{i} = weigh(item_{i}, factor={i}) + offset_{i}\n" for i in range(32))
    copied = "".join((corpus / "difflib.py").read_text().splitlines(keepends=True)[409:445])
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        _search(page, url, key, own + copied)
        first = page.locator(".match").first
        q_pane, s_pane = first.locator(".pane").nth(0), first.locator(".pane").nth(1)
        q, s = q_pane.evaluate(_IN_VIEW), s_pane.evaluate(_IN_VIEW)
        assert q["hits"] >= 30 and s["hits"] >= 30
        # The query pane scrolled to line 33; each pane shows as many matched lines as fit in it.
        assert q["scrollTop"] > 0 and min(q["seen"]) == 33
        for shown in (q, s):
            assert len(shown["seen"]) >= min(shown["hits"], shown["rows"] - 2), shown
        first.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"search-{width}px.png"), full_page=True)
        # Nothing runs off the screen sideways, the key field included.
        key_box = page.locator("#api-key").bounding_box()
        assert key_box is not None and key_box["x"] >= 0 and key_box["x"] + key_box["width"] <= width
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if width < 700:  # one pane above the other
            q_box, s_box = q_pane.bounding_box(), s_pane.bounding_box()
            assert q_box and s_box and s_box["y"] >= q_box["y"] + q_box["height"]
    finally:
        page.close()


def test_renamed_tokens_are_marked_on_both_sides(page: Page, site: tuple[str, str], corpus: Path) -> None:
    text = (corpus / "difflib.py").read_text()
    original = text[text.index("    def get_grouped_opcodes(") : text.index("    def ratio(")]
    renamed = re.sub(r"\bgroup\b", "chunk", re.sub(r"\bcodes\b", "ops", original))
    url, key = site
    _search(page, url, key, renamed)
    first = page.locator(".match").first
    assert first.locator("a.source-link").inner_text() == "python/cpython/difflib.py"
    yours = first.locator(".pane").nth(0).locator("mark.renamed")
    theirs = first.locator(".pane").nth(1).locator("mark.renamed")
    assert yours.count() >= 8 and yours.count() == theirs.count()
    assert set(yours.all_inner_texts()) == {"ops", "chunk"}
    assert set(theirs.all_inner_texts()) == {"codes", "group"}
    assert yours.first.get_attribute("title") in (
        "renamed: codes (source) → ops (yours)",
        "renamed: group (source) → chunk (yours)",
    )
    assert "renamed identifiers" in first.locator(".legend").inner_text()
    # Lines that are the same on both sides carry no mark.
    same = first.locator(".pane").nth(0).locator(".line.hit", has_not=page.locator("mark"))
    assert same.count() >= 10
    page.screenshot(path=str(ARTIFACTS / "renamed-tokens.png"), full_page=True)


def test_without_a_key_the_page_points_at_the_key_box(page: Page, site: tuple[str, str]) -> None:
    url, _ = site
    page.goto(url + "/")
    page.fill("#code", "x = 1")
    page.click("#search-btn")
    expect(page.locator("#error")).to_contain_text("“API key” box at the top of the page")
    assert "whence keys" not in page.inner_text("#error")
    expect(page.locator("#api-key")).to_be_focused()
    expect(page.locator("#api-key")).to_have_class(re.compile(r"\bneeded\b"))
    page.keyboard.type("whk_wrong_key")  # typing takes the outline away; a refused key brings it back
    expect(page.locator("#api-key")).not_to_have_class(re.compile(r"\bneeded\b"))
    page.click("#search-btn")
    expect(page.locator("#error")).to_contain_text("The API key was refused (unknown API key)")
    expect(page.locator("#api-key")).to_be_focused()


def test_the_page_loads_without_a_failed_request(page: Page, site: tuple[str, str]) -> None:
    url, _ = site
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url + "/")
    icon = page.request.get(url + "/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert icon.body()[:4] == b"\0\0\1\0"  # an ICO file's header
    svg = page.request.get(url + "/favicon.svg")
    assert svg.status == 200 and svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.body()
    page.wait_for_load_state("networkidle")
    assert failed == []


def test_playground_controls_and_sources_beside_the_completion(
    browser: Any, tiny_model: Path, tiny_index: Path, tiny_corpus: Path, tmp_path: Path
) -> None:
    """Suffix, stop strings, n and seed reach the request; each of the n completions is shown; the code
    an attributed completion came from is shown beside it, scrolled to the matched lines."""
    from tests.test_generator import split

    s = Settings(index=str(tiny_index), state=str(tmp_path / "s.sqlite"), model=str(tiny_model),
                 search_processes=0)  # fmt: skip
    state = State(s.state)
    _, key = state.create_key("browser")
    state.close()
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 40)
    sent: list[Any] = []
    with serve_in_thread(create_app(s)) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on(
            "request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/v1/completions") else None
        )
        try:
            page.goto(url + "/")
            page.fill("#api-key", key)
            page.click("#tab-generate")
            page.fill("#prompt", prompt)
            page.fill("#suffix", "\n\nif __name__ == '__main__':\n    pass\n")
            page.fill("#stop", "\\n\\n\\n\nNEVER")
            page.fill("#max-tokens", "40")
            page.fill("#temperature", "0.8")
            page.fill("#n", "2")
            page.fill("#seed", "18446744073709551615")
            page.click("#gen-btn")
            expect(page.locator("#gen-status")).to_have_text(re.compile(r"^done"), timeout=120_000)
            assert sent[-1]["suffix"] == "\n\nif __name__ == '__main__':\n    pass\n"
            assert sent[-1]["stop"] == ["\n\n\n", "NEVER"] and sent[-1]["n"] == 2
            assert sent[-1]["max_tokens"] == 40 and sent[-1]["temperature"] == 0.8 and sent[-1]["stream"]
            assert page.locator("#gen-output .choice").count() == 2
            assert page.locator("#gen-output .choice h4").all_inner_texts() == [
                "completion 1",
                "completion 2",
            ]
            assert page.inner_text("#error") == ""

            # Greedy, no suffix: the model writes colorsys.py on; its source is shown beside it.
            page.fill("#suffix", "")
            page.fill("#stop", "")
            page.fill("#n", "1")
            page.fill("#seed", "")
            page.fill("#temperature", "0")
            page.fill("#max-tokens", "120")
            page.click("#gen-btn")
            expect(page.locator("#gen-status")).to_have_text(re.compile(r"^done"), timeout=120_000)
            assert page.inner_text("#gen-status") == "done · attribution: verbatim"
            assert "suffix" not in sent[-1] and "stop" not in sent[-1] and "seed" not in sent[-1]
            card = page.locator("#gen-attribution .match").first
            assert card.locator("a.source-link").inner_text() == "python/cpython/colorsys.py"
            panes = card.locator(".pane")
            assert panes.count() == 2 and panes.nth(0).locator("h4").inner_text() == "the completion"
            for i in range(2):
                shown = panes.nth(i).evaluate(_IN_VIEW)
                assert shown["hits"] >= 5 and len(shown["seen"]) >= min(shown["hits"], shown["rows"] - 2)
            page.screenshot(path=str(ARTIFACTS / "playground-sources.png"), full_page=True)
        finally:
            page.close()
