"""The measured tables on the documentation pages, generated from `benchmarks/results/`.

A page says `<!-- results: ntm.txt -->` where a benchmark's table belongs; this
MkDocs hook (see `mkdocs.yml`) puts the file's current content there, so no table
is ever copied by hand and a re-run benchmark updates its page. Paragraphs that
are Markdown tables stay Markdown; the rest is shown as printed. A marker that
names a missing file fails the build.

    python -m benchmarks.docs_tables docs/ntm/index.md   # prints the page as it is built
"""

import os
import re
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
MARKER = re.compile(r"^<!-- results: (?P<name>[\w.-]+) -->$", re.M)


def render(name):
    """The Markdown for results file `name`: its Markdown tables as tables, the rest fenced."""
    path = os.path.join(RESULTS, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"<!-- results: {name} --> names no file in benchmarks/results/")
    with open(path, encoding="utf-8") as f:
        paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", f.read()) if p.strip()]
    blocks, plain = [], []
    for paragraph in paragraphs:
        lines = paragraph.split("\n")
        table_at = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
        if table_at is None:
            plain.append(paragraph)
            continue
        if plain:
            blocks.append("```text\n" + "\n\n".join(plain) + "\n```")
            plain = []
        blocks += [f"**{title}**" for title in lines[:table_at]]  # the titles above a Markdown table
        blocks.append("\n".join(lines[table_at:]))
    if plain:
        blocks.append("```text\n" + "\n\n".join(plain) + "\n```")
    source = f"*Generated from `benchmarks/results/{name}`, as the benchmark printed it.*"
    return "\n\n".join([source] + blocks)


def expand(markdown):
    return MARKER.sub(lambda m: render(m.group("name")), markdown)


def on_page_markdown(markdown, **kwargs):  # the MkDocs hook
    return expand(markdown)


if __name__ == "__main__":
    for page in sys.argv[1:]:
        with open(page, encoding="utf-8") as f:
            print(expand(f.read()))
