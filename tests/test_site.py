"""The documentation site: `mkdocs build --strict` passes, and pages open in headless Chromium with
every image loaded, the code and the results table present, and a screenshot that is not blank.

The screenshots are kept in build/screenshots/ to look at. CI installs Debian's chromium (.ci/run);
elsewhere the browser part is skipped when chromium is missing, unless TFCOOK_REQUIRE_CHROMIUM=1.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tfcook import cli, reference, site

PAGES = ("", "recipes/cnn/", "recipes/gnn/", "recipes/scheduler/")  # the home page and three recipes with figures
SHOTS = reference.ROOT / "build" / "screenshots"

# Opens the page in a same-origin iframe, waits for its images, and writes what it found into <pre>,
# which `chromium --dump-dom` prints.
HARNESS = """<!doctype html><meta charset="utf-8">
<iframe id="page" style="width:1280px;height:2000px"></iframe><pre id="found"></pre>
<script>
const frame = document.getElementById("page");
frame.onload = async () => {
  const doc = frame.contentDocument, images = [...doc.images];
  await Promise.all(images.map(i => i.complete ? 0 : new Promise(done => { i.onload = i.onerror = done; })));
  document.getElementById("found").textContent = JSON.stringify({
    title: doc.title,
    images: images.map(i => ({src: i.getAttribute("src"), width: i.naturalWidth})),
    code_blocks: doc.querySelectorAll("pre code").length,
    tables: [...doc.querySelectorAll("table")].map(t => t.rows.length),
    headings: [...doc.querySelectorAll("h2")].map(h => h.textContent.replace("\u00b6", "").trim()),
  });
};
frame.src = location.hash.slice(1);
</script>
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    pages = site.build(out)
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(out / "mkdocs.yml")],
                          capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, pages


def test_the_site_has_a_page_per_recipe_and_the_guides(built):
    out, pages = built
    names = {p.relative_to(out / "docs").as_posix() for p in pages}
    assert {f"recipes/{n}.md" for n in cli.recipe_files()} <= names
    assert {"index.md", *site.GUIDES} <= names
    for name in cli.recipe_files():
        assert (out / "site" / "recipes" / name / "index.html").exists()


def test_a_recipe_page_has_its_prose_code_record_and_links(built):
    out, _ = built
    page = (out / "docs" / "recipes" / "mnist.md").read_text()
    for part in ("Open in Colab", "View source on GitHub", "```python", "## Recorded run", "| `test_accuracy` |",
                 "make recipe NAME=mnist", "## Notes"):
        assert part in page, part
    # Prose blocks come between the code, in the file's order (keras-io style), not all above it.
    assert page.index("## The model") < page.index("def build_model") < page.index("## Training")


@pytest.fixture(scope="module")
def server(built):
    root = built[0] / "site"
    (root / "check.html").write_text(HARNESS)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("TFCOOK_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium package)")
        pytest.skip("chromium is not installed")
    return found


def browse(*args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--window-size=1280,2000"]
    return subprocess.run([chromium(), *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("page", PAGES)
def test_page_in_chromium(server, page):
    proc = browse("--virtual-time-budget=20000", "--dump-dom", f"{server}check.html#/{page}")
    match = re.search(r'<pre id="found">(.*?)</pre>', proc.stdout, re.S)
    assert match and match[1], f"the page did not report back: {proc.stderr[-2000:]}"
    found = json.loads(match[1].replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert "tfcook" in found["title"]
    assert all(image["width"] > 0 for image in found["images"]), found["images"]
    assert found["tables"], "no table on the page"
    if page:
        assert len(found["images"]) >= 1 and found["code_blocks"] >= 5
        assert "Recorded run" in found["headings"]
        assert max(found["tables"]) >= 3  # the metrics table: header row and at least two metrics

    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{page.strip('/').replace('/', '-') or 'home'}.png"
    browse(f"--screenshot={shot}", f"{server}{page}")
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    # Not blank: text and figures give many dark pixels and a spread of grey levels.
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.01, f"{shot} looks blank"
