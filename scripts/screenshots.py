"""Make the README's screenshots: docs/screenshot.png (1280 px wide), docs/screenshot-narrow.png (420 px) and
docs/screenshot-upload.png (a news page added in the chat and answered from).

    python scripts/screenshots.py [--out docs] [--index index]

Starts `python app.py` on a free port against the index (the committed one by default), asks the first
example question in headless Debian chromium (Playwright, no `playwright install`), opens the first
citation and saves both screenshots. The test suite never writes them (tests/test_browser.py saves its
own to a temporary folder), so run this after a change to the app's look and commit the result.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
QUESTION = "平度市累计建成了多少万亩高标准农田？"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(log: Path, timeout: float = 90, **env_vars: str):
    """Run `python app.py` on a free port with extra environment variables; yield its URL. Raises
    RuntimeError (naming the log) when it exits or does not answer within `timeout` seconds.
    tests/test_browser.py serves the app the same way."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **env_vars}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not answer on {url} within {timeout:.0f} s:\n"
                                   f"{log.read_text(errors='replace')}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ask_and_open_first_citation(page) -> None:
    page.wait_for_selector("#rag-question textarea")
    box = page.locator("#rag-question textarea")
    box.fill(QUESTION)
    box.press("Enter")
    page.wait_for_selector("#rag-chat .rag-reply", timeout=30000)
    reply = page.locator("#rag-chat .rag-reply").last
    reply.locator("details.rag-cite summary").first.click()
    reply.locator(".rag-passage mark").first.wait_for(state="visible")


# Facts the seeds do not hold, so an answer from them can only come from the upload.
UPLOAD_STORY = ["本报12月14日讯 西海岸新区今年以来加快智慧停车建设，全年建成智慧停车场37处，新增停车泊位一万二千个。",
                "下一步，西海岸新区将把停车场接入城市停车平台，市民可在手机上查询空余泊位并在线缴费。"]
UPLOAD_QUESTION = "西海岸新区今年建成智慧停车场多少处？"


def write_upload_page(folder: Path) -> Path:
    """The news page the upload screenshot and tests/test_upload_browser.py add in the chat."""
    if str(ROOT) not in sys.path:  # run as `python scripts/screenshots.py`
        sys.path.insert(0, str(ROOT))
    from benchmarks.documents import make_html

    path = Path(folder) / "停车新闻.html"
    path.write_bytes(make_html("西海岸新区智慧停车场建设提速", UPLOAD_STORY, date="2022-12-15", author="张晓帆",
                               site="青岛新闻网"))
    return path


def upload_files(page, paths, timeout: float = 60000) -> None:
    """Add files with the chat's upload button and wait for the message saying what was added."""
    before = page.locator("#rag-chat .rag-upload").count()
    page.locator("#rag-upload input[type=file], input[type=file]").first.set_input_files([str(p) for p in paths])
    page.wait_for_function("n => document.querySelectorAll('#rag-chat .rag-upload').length > n", arg=before,
                           timeout=timeout)


def ask(page, question: str, timeout: float = 30000) -> None:
    """Type a question, wait for its reply."""
    before = page.locator("#rag-chat .rag-reply").count()
    box = page.locator("#rag-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function("n => document.querySelectorAll('#rag-chat .rag-reply').length > n", arg=before,
                           timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs (default: docs)")
    parser.add_argument("--index", type=Path, default=ROOT / "index", help="index folder (default: index)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk", file=sys.stderr)
        return 1
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("error: playwright is not installed: pip install playwright", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / ".screenshots-app.log"
    try:
        with serve_app(log, RAG_INDEX=str(args.index.resolve())) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1300})
            page.goto(url)
            _ask_and_open_first_citation(page)
            page.screenshot(path=str(args.out / "screenshot.png"), full_page=True)
            page.close()
            page = browser.new_page(viewport={"width": 420, "height": 1000})
            page.goto(url)
            _ask_and_open_first_citation(page)
            page.wait_for_timeout(400)  # the chat autoscrolls to the end of the long reply: show the answer
            page.locator("#rag-chat .rag-question").last.evaluate("e => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(400)
            page.screenshot(path=str(args.out / "screenshot-narrow.png"), full_page=True)
            page.close()
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.goto(url)
            page.wait_for_selector("#rag-question textarea")
            import tempfile

            with tempfile.TemporaryDirectory() as folder:
                upload_files(page, [write_upload_page(Path(folder))])
            ask(page, UPLOAD_QUESTION)
            reply = page.locator("#rag-chat .rag-reply").last
            reply.locator("details.rag-cite summary").first.click()
            page.wait_for_timeout(400)
            page.screenshot(path=str(args.out / "screenshot-upload.png"), full_page=True)
            browser.close()
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    log.unlink(missing_ok=True)
    print(f"wrote {args.out / 'screenshot.png'}, {args.out / 'screenshot-narrow.png'} and "
          f"{args.out / 'screenshot-upload.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
