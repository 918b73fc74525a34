"""The commands of the README and the documentation, read from their `bash` blocks.

`extract()` gives every command in page order (README, then the site in its
navigation order), with its environment prefix and whether it runs in the
background (`&`). `tests/test_documented_commands.py` runs them.
"""

import dataclasses
import pathlib
import re
import shlex

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```(bash|sh|shell|console)\n(.*?)^```", re.S | re.M)
ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=")


@dataclasses.dataclass
class Command:
    page: str  # e.g. "docs/language/index.md"
    line: int  # first line of the command in the page
    argv: list
    env: dict
    background: bool

    @property
    def text(self):
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (env + " " if env else "") + shlex.join(self.argv) + (" &" if self.background else "")

    @property
    def program(self):
        """`python -m <module>` -> the module; `python <script>` -> the script; else the executable."""
        if self.argv[0] == "python" and len(self.argv) > 2 and self.argv[1] == "-m":
            return self.argv[2]
        if self.argv[0] == "python" and len(self.argv) > 1:
            return self.argv[1]
        return self.argv[0]

    @property
    def args(self):
        if self.argv[0] == "python":
            return self.argv[3:] if self.argv[1] == "-m" else self.argv[2:]
        return self.argv[1:]


def pages():
    """README.md, then the documentation pages in the site's navigation order."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    docs_dir = config.get("docs_dir", "docs")
    ordered = []

    def walk(items):
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            if isinstance(value, list):
                walk(value)
            else:
                ordered.append(f"{docs_dir}/{value}")

    walk(config["nav"])
    return ["README.md"] + ordered


def commands_of(page):
    text = (ROOT / page).read_text()
    found = []
    for block in BLOCK.finditer(text):
        first_line = text[: block.start(2)].count("\n") + 1
        logical, start = "", None
        for offset, raw in enumerate(block.group(2).splitlines()):
            if start is None:
                start = first_line + offset
            if raw.rstrip().endswith("\\"):
                logical += raw.rstrip()[:-1] + " "
                continue
            logical += raw
            try:
                found += _split(page, start, logical)
            except ValueError:  # a quoted argument goes on over the next line
                logical += " "
                continue
            logical, start = "", None
        assert not logical, f"{page}:{start}: unfinished command {logical!r}"
    return found


def _split(page, line, text):
    tokens = shlex.split(text, comments=True)
    commands, current = [], []
    for token in tokens + ["&&"]:
        if token != "&&":
            current.append(token)
            continue
        if current:
            background = current[-1] == "&"
            words = current[:-1] if background else current
            env = {}
            while words and ENV.match(words[0]):
                key, _, value = words.pop(0).partition("=")
                env[key] = value
            commands.append(Command(page, line, words, env, background))
        current = []
    return commands


INLINE = re.compile(r"`(python [^`<>{}]+)`")


def inline_commands():
    """`[(page, command text)]`: commands quoted inline in the pages' prose (those with a
    placeholder such as `<task>` are left out)."""
    found = []
    for page in pages():
        text = BLOCK.sub("", (ROOT / page).read_text())
        found += [(page, m.group(1)) for m in INLINE.finditer(text)]
    return found


def extract():
    return [command for page in pages() for command in commands_of(page)]
