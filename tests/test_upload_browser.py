"""The chat's upload in headless chromium: `python app.py` on the committed index, a news page added with the
upload button and answered from with a citation marked as the user's own; a second browser session does not
see it; an oversized and a broken file each get their reason, and the session's index is unchanged."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts.screenshots import (CHROMIUM, CHROMIUM_ARGS, UPLOAD_QUESTION, ask, serve_app, upload_files,
                                 write_upload_page)
from tests.helpers import tree_digest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
INDEX = Path(os.environ.get("RAG_INDEX") or ROOT / "index")

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk", allow_module_level=True)
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    pytest.skip("playwright is not installed: pip install playwright", allow_module_level=True)
if not (INDEX / "manifest.json").exists():
    pytest.skip(f"{INDEX} is not built yet: python -m rag build", allow_module_level=True)


def test_upload_answer_second_session_and_limits(tmp_path):
    page_file = write_upload_page(tmp_path)
    big = tmp_path / "big.txt"
    big.write_bytes("崂山。".encode() * 400_000)  # 3.6 MB, over RAG_UPLOAD_MAX_MB=1
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj<</Type/Catalog")
    before = tree_digest(INDEX)
    with serve_app(tmp_path / "app.log", timeout=90, RAG_INDEX=str(INDEX), RAG_CORPUS=str(ROOT / "seeds"),
                   RAG_UPLOAD_MAX_MB="1") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        mine = browser.new_context().new_page()
        mine.goto(url)
        mine.wait_for_selector("#rag-question textarea")
        upload_files(mine, [page_file])
        added = mine.locator("#rag-chat .rag-upload").last.inner_text()
        assert "✓" in added and "停车新闻.html" in added and "Only this browser session" in added
        ask(mine, UPLOAD_QUESTION)
        reply = mine.locator("#rag-chat .rag-reply").last
        assert "37处" in reply.inner_text()
        first = reply.locator("details.rag-cite").first
        assert "停车新闻.html" in first.inner_text() and first.locator(".rag-badge-upload").count() == 1
        mine.screenshot(path=str(tmp_path / "upload.png"), full_page=True)

        other = browser.new_context().new_page()  # a second visitor: a new session
        other.goto(url)
        other.wait_for_selector("#rag-question textarea")
        ask(other, UPLOAD_QUESTION)
        theirs = other.locator("#rag-chat .rag-reply").last.inner_text()
        assert "停车新闻.html" not in theirs and "37处" not in theirs and "your file" not in theirs

        upload_files(mine, [big])
        refused = mine.locator("#rag-chat .rag-upload").last.inner_text()
        assert "✗" in refused and "big.txt" in refused and "over the limit of 1 MB" in refused
        upload_files(mine, [broken])
        refused = mine.locator("#rag-chat .rag-upload").last.inner_text()
        assert "broken.pdf" in refused and "damaged PDF" in refused
        assert "(1): 停车新闻.html" in refused  # the session still holds only the page it added
        ask(mine, UPLOAD_QUESTION)
        assert "37处" in mine.locator("#rag-chat .rag-reply").last.inner_text()
        browser.close()
    assert tree_digest(INDEX) == before  # the shared index was never written
