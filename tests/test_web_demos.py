"""The web demos in headless Chromium against the local server on 127.0.0.1
(`python -m serving --web`) with small exported models: each page's main path
and its error messages. Screenshots and click-to-result timings are written to
`test-artifacts/web/`."""

import os

import pytest
from serving_helpers import http, png, start_server

from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.path.join(ROOT, "test-artifacts", "web")


@pytest.fixture(scope="module")
def demo_server(handwriting_export, caption_runs, tmp_path_factory):
    """One server with the synthesis, captioning and retrieval exports, the web
    pages and the retrieval run's test images as the gallery."""
    tmp = tmp_path_factory.mktemp("web")
    exports = {
        "handwriting_synthesis": handwriting_export["summaries"]["synthesis"]["export"],
        "captioning": caption_runs["captioning"]["export"],
        "retrieval": caption_runs["retrieval"]["export"],
    }
    entries = "".join(
        f'config {{ name: "{name}" base_path: "{os.path.dirname(path)}" model_platform: "tensorflow" }}\n'
        for name, path in exports.items()
    )
    config = tmp / "models.config"
    config.write_text(f"model_config_list {{\n{entries}}}\n")
    gallery = caption_runs["retrieval"]["gallery"]
    server = start_server([f"--model_config_file={config}", "--web", f"--web_gallery={gallery}"], tmp)
    yield server
    assert server.stop() == 0, server.log()[-2000:]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run python -m keras_l11.data.install (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.set_default_timeout(60_000)
    yield page
    page.close()


def elapsed_ms(page, start, end):
    return float(page.evaluate(f"() => document.body.dataset.{end} - document.body.dataset.{start}"))


def record_timing(name, milliseconds):
    with open(os.path.join(ARTIFACTS, "timings.txt"), "a") as f:
        f.write(f"{name}\t{milliseconds:.0f} ms\n")
    print(f"{name}: {milliseconds:.0f} ms")


def inked_pixels(page):
    return page.evaluate(
        """() => { const c = document.getElementById('canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""
    )


def test_the_server_serves_the_pages_and_the_gallery_and_nothing_outside(demo_server):
    import urllib.request

    for name in ("index.html", "handwriting.html", "captioning.html", "ranking.html", "app.js", "styles.json"):
        with urllib.request.urlopen(f"{demo_server.url}/{name}") as response:
            assert response.status == 200
    status, listing = http("GET", f"{demo_server.url}/gallery/index.json")
    assert status == 200 and len(listing["images"]) > 8 and listing["images"][0].endswith(".png")
    for path in ("/../setup.py", "/%2e%2e/setup.py", "/gallery/../../setup.py", "/missing.html", "/server.py"):
        assert http("GET", demo_server.url + path)[0] == 404, path
    assert http("GET", f"{demo_server.url}/v1/models/captioning")[0] == 200  # the API is still there


def test_handwriting_page_writes_the_text_on_the_canvas(demo_server, page):
    page.goto(f"{demo_server.url}/handwriting.html")
    page.fill("#text", "hello world")
    page.click("#write")
    page.wait_for_selector("body[data-done]")
    assert inked_pixels(page) > 200
    assert page.is_hidden("#error") and page.is_enabled("#download")
    record_timing("handwriting: click to first stroke", elapsed_ms(page, "clicked", "firstStroke"))
    page.screenshot(path=os.path.join(ARTIFACTS, "handwriting.png"))
    with page.expect_download() as download:
        page.click("#download")
    svg = open(download.value.path()).read()
    assert svg.startswith("<svg") and "<path d=" in svg


def test_handwriting_page_writes_in_a_chosen_style(demo_server, page):
    page.goto(f"{demo_server.url}/handwriting.html")
    page.wait_for_function("() => document.getElementById('style').options.length > 1")
    page.select_option("#style", "1")
    page.fill("#text", "a word")
    page.click("#write")
    page.wait_for_selector("body[data-done]")
    assert inked_pixels(page) > 100 and page.is_hidden("#error")


@pytest.mark.parametrize(
    "text, model, message",
    [
        ("   ", "handwriting_synthesis", "Type a text"),
        ("Hello!", "handwriting_synthesis", "outside the alphabet"),
        ("hello", "no_such_model", "is not loaded"),
    ],
)
def test_handwriting_page_explains_bad_input(demo_server, page, text, model, message):
    page.goto(f"{demo_server.url}/handwriting.html")
    page.fill("#text", text)
    page.fill("#model", model)
    page.click("#write")
    page.wait_for_selector("#error:not([hidden])")
    assert message in page.inner_text("#error")


def test_captioning_page_shows_the_beam_with_log_probabilities(demo_server, page):
    from keras_l11.captioning.data import caption_scenes

    page.goto(f"{demo_server.url}/captioning.html")
    scene = caption_scenes(1, seed=21)[0]["image"]
    page.set_input_files("#file", files=[{"name": "scene.png", "mimeType": "image/png", "buffer": png(scene)}])
    page.click("#caption")
    page.wait_for_selector("body[data-done]")
    items = page.locator("#captions li").all_inner_texts()
    assert len(items) == 3 and all("logprob: -" in item for item in items)
    scores = [float(item.rsplit("logprob: ", 1)[1]) for item in items]
    assert scores == sorted(scores, reverse=True)
    record_timing("captioning: click to full caption list", elapsed_ms(page, "clicked", "done"))
    page.screenshot(path=os.path.join(ARTIFACTS, "captioning.png"))


@pytest.mark.parametrize(
    "name, mime, data, message",
    [
        ("notes.txt", "text/plain", b"not an image", "is not a PNG or JPEG"),
        ("big.png", "image/png", b"\x89PNG" + bytes(5 << 20), "the limit is 4 MB"),
        ("broken.png", "image/png", b"\x89PNG broken", "image"),
    ],
)
def test_captioning_page_explains_bad_files(demo_server, page, name, mime, data, message):
    page.goto(f"{demo_server.url}/captioning.html")
    page.set_input_files("#file", files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.click("#caption")
    page.wait_for_selector("#error:not([hidden])")
    assert message in page.inner_text("#error")


def test_ranking_page_ranks_the_gallery_for_a_sentence(demo_server, page):
    page.goto(f"{demo_server.url}/ranking.html")
    page.fill("#sentence", "a red circle above a blue square")
    page.click("#rank")
    page.wait_for_selector("body[data-done]")
    labels = page.locator("#ranked li span").all_inner_texts()
    scores = [float(label.rsplit("score ", 1)[1]) for label in labels]
    assert len(scores) == 8 and scores == sorted(scores, reverse=True)
    assert page.locator("#ranked img").count() == 8
    page.screenshot(path=os.path.join(ARTIFACTS, "ranking.png"))
    page.fill("#sentence", "")
    page.click("#rank")
    page.wait_for_selector("#error:not([hidden])")
    assert "Type a sentence" in page.inner_text("#error")


def test_pages_say_when_the_server_is_down(browser, caption_runs, tmp_path):
    base = os.path.dirname(caption_runs["retrieval"]["export"])
    server = start_server(["--model_name=retrieval", f"--model_base_path={base}", "--web"], tmp_path)
    page = browser.new_page()
    try:
        page.goto(f"{server.url}/handwriting.html")
        server.stop()
        page.fill("#text", "hello")
        page.click("#write")
        page.wait_for_selector("#error:not([hidden])", timeout=40_000)
        assert "not answering" in page.inner_text("#error")
    finally:
        page.close()
        server.stop()
