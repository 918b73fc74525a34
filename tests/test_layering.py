"""The layering rule (docs: contributing), checked on every module's imports, read
with `ast` (nothing is imported, so this runs in a second):

    jobs (train/) and clients -> task code and export -> models -> layers -> ops
    data and metrics import nothing above them; the server imports no topic;
    no import cycle.
"""

import ast
import collections
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOPICS = {"ntm", "language", "handwriting", "detection", "dense", "video", "captioning", "generative", "robustness"}
SHARED = {"layers", "ops", "data", "figures", "training", "web", "command_line", "lazy"}
# Where the lecture builds one topic on another: captions use the language topic's
# vocabularies; the adversarial examples attack the generative topic's autoencoder.
CROSS_TOPIC = {("captioning", "language"), ("robustness", "generative")}
# A topic's modules by role; everything else in a topic is model code (models, layers, ops).
TOP = {"client", "web_styles"}  # commands users run
TASK = {"task", "configs", "export", "prepare"}  # what jobs share: protocols, configs, signatures, data pipelines
DATA = {"data", "depth_data", "segmentation_data", "tasks", "text", "words", "parallel", "regions"}
METRICS = {"metrics", "depth_metrics", "segmentation_metrics"}
FIGURES = {"figures"}
OPS = {"addressing", "boxes", "flow", "upsampling"}  # a topic's framework-light operations
SPECS = {"specs"}  # names and shapes as plain data, below everything (they import nothing)
# The in-graph tokenisers are how text data becomes ids: data may use them.
DATA_LEVEL_SHARED = {"keras_l11.layers.tokenizers"}


def module_files():
    files = {}
    for path in sorted((ROOT / "keras_l11").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    return files


MODULES = module_files()


def resolve(name):
    """The module a dotted import name lives in (a name imported from a package
    resolves to the submodule of that name when there is one)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports_of(path, project=("keras_l11",)):
    """Every project module `path` imports, at any depth (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in project:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in MODULES or full.split(".")[0] != "keras_l11" else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in project}
    return {resolve(n) if n.startswith("keras_l11") else n for n in found}


GRAPH = {name: imports_of(path) - {name} for name, path in MODULES.items()}


def topic_of(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in TOPICS else None


def role_of(module):
    leaf = module.rsplit(".", 1)[-1]
    if topic_of(module) is None or module == f"keras_l11.{topic_of(module)}":
        return "package"
    roles = (
        ("top", TOP),
        ("task", TASK),
        ("data", DATA),
        ("metrics", METRICS),
        ("figures", FIGURES),
        ("ops", OPS),
        ("specs", SPECS),
    )
    for role, names in roles:
        if leaf in names:
            return role
    return "model"


def edges():
    return [(a, b) for a, targets in sorted(GRAPH.items()) for b in sorted(targets) if b.startswith("keras_l11")]


def test_the_rule_sees_every_topic_and_the_imports():
    assert {topic_of(m) for m in MODULES} - {None} == TOPICS
    assert ("keras_l11.ntm.models", "keras_l11.ntm.cell") in edges()  # the reader finds real imports


def test_shared_modules_import_no_topic():
    bad = [(a, b) for a, b in edges() if a.split(".")[1:2] and a.split(".")[1] in SHARED and topic_of(b)]
    assert not bad, bad


def test_the_server_imports_no_topic_and_no_training_code():
    bad = [
        (a, b)
        for a, b in edges()
        if a.startswith("keras_l11.serving") and (topic_of(b) or b.startswith("keras_l11.training"))
    ]
    assert not bad, bad


def test_model_data_and_metrics_code_knows_nothing_of_training_serving_tasks_or_clients():
    below_task = {"model", "ops", "data", "metrics", "figures", "package"}
    bad = [
        (a, b)
        for a, b in edges()
        if topic_of(a)
        and role_of(a) in below_task
        and (b.startswith(("keras_l11.training", "keras_l11.serving")) or role_of(b) in ("task", "top"))
    ]
    assert not bad, bad


def test_data_metrics_and_ops_import_nothing_above_them():
    bad = []
    for a, b in edges():
        if role_of(a) not in ("data", "metrics", "ops"):
            continue
        shared_ok = b.split(".")[1] in ("ops", "data") or b in DATA_LEVEL_SHARED
        if not (topic_of(b) and role_of(b) in ("data", "metrics", "ops", "specs") or shared_ok):
            bad.append((a, b))
    assert not bad, bad


def test_topics_import_each_other_only_where_the_lecture_builds_on_another():
    crossings = {
        (topic_of(a), topic_of(b)) for a, b in edges() if topic_of(a) and topic_of(b) and topic_of(a) != topic_of(b)
    }
    assert crossings <= CROSS_TOPIC, crossings - CROSS_TOPIC


def test_no_import_cycle():
    state, cycles = collections.defaultdict(int), []

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(GRAPH.get(node, ())):
            if not nxt.startswith("keras_l11"):
                continue
            if state[nxt] == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif state[nxt] == 0:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for module in sorted(GRAPH):
        if state[module] == 0:
            visit(module, [module])
    # A package's __init__ re-exports its own modules: importing the package from one
    # of its modules is not a cycle a reader needs to follow, but still flagged here.
    assert not cycles, cycles


@pytest.mark.parametrize("job", sorted(p.stem for p in (ROOT / "train").glob("*.py") if p.stem != "__init__"))
def test_each_job_knows_nothing_about_another(job):
    used = imports_of(ROOT / "train" / f"{job}.py", project=("train",))
    assert not used, f"train/{job}.py imports {sorted(used)}"


def test_specs_and_configs_load_without_tensorflow():
    """A topic's `specs` (names and shapes) import nothing outside the standard
    library, and its `configs` import no model at module level, so a job's
    `--help` never loads TensorFlow (tests/test_command_line.py runs it)."""
    heavy = ("keras_l11", "tensorflow", "keras", "numpy", "tensorflow_probability")
    for name, path in MODULES.items():
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "specs":
            assert not imports_of(path, project=heavy), f"{name} imports {imports_of(path, project=heavy)}"
        if leaf == "configs":
            top_level = ast.parse(path.read_text()).body
            imported = {
                n.module for n in top_level if isinstance(n, ast.ImportFrom) and n.module.startswith("keras_l11")
            }
            allowed = {"keras_l11.training.config"} | {m for m in imported if m.endswith(".specs")}
            assert imported <= allowed, f"{name} imports {sorted(imported - allowed)} at module level"
