"""The web demos' responsiveness in headless Chromium: time from the click to
the first stroke drawn (handwriting) and to the full caption list (captioning),
and to the ranked gallery (ranking), measured in the page with
`performance.now()`.

Runs against a server that has the pages and the three models, e.g.

    python -m serving --rest_api_port 8501 --model_config_file serving/models.config \\
        --web --web_gallery runs/retrieval/small/gallery &
    python -m benchmarks.web --url http://127.0.0.1:8501
"""

import argparse
import statistics

from benchmarks.common import write_report
from keras_l11 import command_line
from keras_l11.training.harness import format_table

CHROMIUM = "/usr/bin/chromium"


def measure(page, url, action, start="clicked", end="done"):
    page.goto(url)
    action(page)
    page.wait_for_selector("body[data-done]", timeout=120_000)
    return float(page.evaluate(f"() => document.body.dataset.{end} - document.body.dataset.{start}"))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=command_line.HelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8501")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from keras_l11.captioning.data import caption_scenes
    from keras_l11.ops.images import encode_png

    scene = {"name": "scene.png", "mimeType": "image/png", "buffer": encode_png(caption_scenes(1, seed=21)[0]["image"])}

    def write(page):
        page.fill("#text", "hello world")
        page.click("#write")

    def caption(page):
        page.set_input_files("#file", files=[scene])
        page.click("#caption")

    def rank(page):
        page.fill("#sentence", "a red circle above a blue square")
        page.click("#rank")

    flows = [
        ("handwriting: click to first stroke", "handwriting.html", write, "firstStroke"),
        ("handwriting: click to last stroke", "handwriting.html", write, "done"),
        ("captioning: click to full caption list (beam 3)", "captioning.html", caption, "done"),
        ("ranking: click to ranked gallery (first search embeds the gallery)", "ranking.html", rank, "done"),
    ]
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        for name, path, action, end in flows:
            times = [measure(page, f"{args.url}/{path}", action, end=end) for _ in range(args.rounds)]
            rows.append([name, min(times), statistics.median(times), max(times)])
        browser.close()
    header = [f"headless Chromium, {args.rounds} rounds", "best ms", "median ms", "worst ms"]
    write_report("web", [("Web demos: time from click to result (2 CPU cores)", format_table(header, rows))])


if __name__ == "__main__":
    main()
