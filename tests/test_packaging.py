"""What `pip install` puts in site-packages: the wheel holds `keras_l11` and nothing
else at its top level (no `train`, `serving`, `tests` or `benchmarks`), with the web
demos' pages inside the package."""

import pathlib
import shutil
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_the_wheel_installs_keras_l11_only(tmp_path):
    # Built from a clean copy of the sources: setuptools never empties an in-tree build/,
    # so a module deleted from the package could still ship from a stale build/lib.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", "build", "site", "runs", "saved_models", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        check=True,
        capture_output=True,
        cwd=source,
    )
    (wheel,) = tmp_path.glob("keras_l11-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"keras_l11"}
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["keras_l11"]
    for page in ("index.html", "app.js", "style.css", "handwriting.html"):
        assert f"keras_l11/web/pages/{page}" in names
    for topic in ("ntm", "language", "handwriting", "detection", "dense", "video", "captioning", "generative"):
        assert f"keras_l11/{topic}/__init__.py" in names
    assert "keras_l11/robustness/__init__.py" in names and "keras_l11/serving/server.py" in names
