"""Lazy package exports: a topic's classes are imported when first used, not when
the package is.

`import keras_l11.ntm.configs` runs `keras_l11/ntm/__init__.py` first; if that
imported the models, every `--help` would load TensorFlow (seconds to a minute).
A topic's `__init__.py` therefore lists its exports as ordinary imports under
`if TYPE_CHECKING:` (what type checkers, IDEs and the documentation's static reader
see) and ends with `__getattr__, __dir__ = lazy.attach(__name__, __file__)`, which
reads those same import statements and imports a name's module on first access
(PEP 562; the scheme of scientific-python's `lazy_loader`, SPEC 1).
"""

import ast
import importlib


def exports_of(path):
    """`{name: module}` from the `from module import name` statements inside the
    file's top-level `if TYPE_CHECKING:` block."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    exports = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom):
                    for alias in statement.names:
                        exports[alias.asname or alias.name] = statement.module
    if not exports:
        raise ImportError(f"{path} has no `if TYPE_CHECKING:` imports to export")
    return exports


def attach(package, path):
    """`(__getattr__, __dir__)` for the package `package` whose `__init__.py` is `path`."""
    exports = exports_of(path)

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(importlib.import_module(package), name, value)  # the next access is a plain lookup
        return value

    def __dir__():
        return sorted(set(exports) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__
