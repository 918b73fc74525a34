"""The web demos' files, served by the local server on its REST port (`--web`).

Same origin as `/v1/`, so the pages call the REST API without CORS. Only
files inside the two folders are served, with a content type from a fixed list:
paths are resolved and must stay inside their folder (no `..`, no symbolic link
out), and nothing a request names is ever executed or unpickled.

- `/` and `/<file>`: the pages in `--web_root` (default `keras_l11/web/pages/`).
- `/gallery/index.json`: the image files of `--web_gallery` (for the ranking
  page), `/gallery/<file>`: one of them.
"""

import json
import os

from keras_l11.serving.errors import not_found

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DEFAULT_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pages")


class StaticFiles:
    """Resolves request paths to `(bytes, content type)`."""

    def __init__(self, root=DEFAULT_ROOT, gallery=None):
        self.root = os.path.realpath(root)
        self.gallery = os.path.realpath(gallery) if gallery else None
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"--web_root {root!r} is not a folder")
        if gallery and not os.path.isdir(self.gallery):
            raise FileNotFoundError(f"--web_gallery {gallery!r} is not a folder")

    def handles(self, path):
        return not path.startswith("/v1/") and path != "/v1"

    def get(self, path):
        if path == "/gallery/index.json":
            return json.dumps({"images": self.gallery_images()}).encode(), CONTENT_TYPES[".json"]
        if path.startswith("/gallery/"):
            if not self.gallery:
                raise not_found("No gallery: start the server with --web_gallery DIR")
            return self._read(self.gallery, path[len("/gallery/") :])
        return self._read(self.root, path.lstrip("/") or "index.html")

    def gallery_images(self):
        if not self.gallery:
            return []
        return sorted(n for n in os.listdir(self.gallery) if n.lower().endswith(IMAGE_SUFFIXES))

    @staticmethod
    def _read(folder, relative):
        path = os.path.realpath(os.path.join(folder, relative))
        suffix = os.path.splitext(path)[1].lower()
        if not path.startswith(folder + os.sep) or not os.path.isfile(path) or suffix not in CONTENT_TYPES:
            raise not_found(f"Not found: /{relative}")
        with open(path, "rb") as f:
            return f.read(), CONTENT_TYPES[suffix]
