"""Every command in the README and the documentation runs as written.

The commands are read from the pages' `bash` blocks (tests/documented_commands.py) and
run in page order in one scratch folder that looks like a checkout (links to `train/`,
`serving/`, `docs/`, ...), so a page can use what an earlier one made, as a reader who
follows the docs would. What each kind of command gets:

- a training job runs at smoke size: `--config smoke` instead of the config named
  (run folders `runs/<job>/small...` become `.../smoke...`), for one epoch of
  `SMOKE_STEPS` steps (training, its evaluation, export and figures: the commands and
  the files they hand each other are what is checked here; tests/test_*_jobs.py check
  that the jobs learn); jobs that set devices,
  threads or precision, or that a `TF_CONFIG` makes a worker, run in their own process,
  the others in this one. A job whose data a test cannot have (a path that does not
  exist, e.g. `--data_path /data/enwik8`) is parsed, flags and overrides included;
- a server command starts the server in the background; clients and `curl` wait until
  their model is available, then must succeed (a `curl` answer must hold no "error");
- a client whose input file is the reader's own (`photo.jpg`, `clip.avi`) shows `--help`;
- benchmarks (minutes to an hour) show `--help` with the documented flags;
- a data-preparation pipeline runs on the offline data at smoke size (`--config
  smoke`); on data a test cannot have (TFDS's VOC, UCF-101) or a cluster runner it
  shows `--help`;
- `python quickstart.py` runs with `--config smoke`;
- what CI runs (`pip install`, `ruff`, `pytest`, `mkdocs build`) must be in `.ci/run`;
  `python -m keras_l11.data.install` runs with `--check`;
- `docker`, `tensorflow_model_server` and `kubectl` are not on this machine: the files
  they name must exist.

Ports 8500, 8501 and the multi-worker ports are mapped to free ones. Commands quoted
inline in the prose are not run, but must name a real command.
"""

import contextlib
import importlib
import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import documented_commands
import pytest

from keras_l11 import command_line

from conftest import ROOT, free_ports

CHECKOUT_LINKS = ("train", "serving", "benchmarks", "docs", "tests", "quickstart.py", "mkdocs.yml", "setup.py")
NOT_ON_THIS_MACHINE = {"docker", "tensorflow_model_server", "kubectl"}
CI_PROGRAMS = {"pip", "ruff", "pytest", "mkdocs"}
SERVERS = {"serving", "keras_l11.serving"}
OWN_PROCESS_FLAGS = {"--cpu_devices", "--strategy", "--mixed_precision", "--jit_compile"}
DOCUMENTED_PORTS = (8500, 8501, 12345, 12346)
# Training steps of each documented job: enough for its loop, checkpoint, evaluation and
# export to run (a smoke epoch is 50 to 200 steps: minutes over the suite's jobs).
SMOKE_STEPS = 2
# TensorFlow's own C++ log lines (E/W/F) and Abseil's, and the CUDA probe: a quiet start shows none.
NOISE = re.compile(
    r"^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [EWF] |[EWF]\d{4} \d\d:\d\d:\d+\.\d+ ).*|.*cuInit.*", re.M
)
FILE_ARGUMENT = re.compile(r"^[\w./~-]+\.(png|jpe?g|avi|mp4|npy|npz|config|yaml)$")


class Parsed(Exception):
    """Raised instead of training once a job's flags are parsed."""


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reader")
    for name in CHECKOUT_LINKS:
        (folder / name).symlink_to(os.path.join(ROOT, name))
    return folder


def smoke_paths(text):
    """`runs/<job>/small...` -> `runs/<job>/smoke...`: where the smoke runs are."""
    return re.sub(r"(runs/\w+/)small(\b|-)", r"\1smoke\2", text)


def smoke_argv(args):
    """A job's documented arguments at smoke size."""
    out, i = [], 0
    while i < len(args):
        if args[i] == "--config":
            i += 2
            continue
        out.append(smoke_paths(args[i]))
        i += 1
    return [
        "--config",
        "smoke",
        *out,
        "--override",
        f"steps_per_epoch={SMOKE_STEPS}",
        "--epochs",
        "1",
        "--progress",
        "none",
    ]


def external_paths(args):
    """Paths a job reads that no documented step makes (`/data/...`, `~/...`)."""
    return [a for a in args if a.startswith(("/", "~")) and not os.path.exists(os.path.expanduser(a))]


def missing_inputs(args, folder):
    """Input files (a reader's own photo or video) that do not exist; a file right
    after an option (`--out detections.png`) is that option's value, an output."""
    return [
        a
        for i, a in enumerate(args)
        if FILE_ARGUMENT.match(a) and not (i and args[i - 1].startswith("--")) and not (folder / a).exists()
    ]


class Reader:
    """Runs one page's commands in the scratch checkout."""

    def __init__(self, folder, page):
        self.folder = folder
        self.page = page
        ports = free_ports(len(DOCUMENTED_PORTS))
        self.ports = dict(zip(map(str, DOCUMENTED_PORTS), map(str, ports)))
        self.servers = []
        self.background = []
        self.logs = []
        self.procs = []
        # A reader's shell: no log level of ours or of the CI script (each command picks its own).
        self.env = {k: v for k, v in os.environ.items() if k != command_line.LOG_LEVEL}
        self.env["PYTHONPATH"] = str(folder)

    def mapped(self, text):
        """Free ports for the documented ones, smoke run folders for `small` ones."""
        return re.sub(r"\b(8500|8501|12345|12346)\b", lambda m: self.ports[m.group(1)], smoke_paths(text))

    def run(self, argv, env=None, timeout=900, background=False):
        full_env = dict(self.env, **{k: self.mapped(v) for k, v in (env or {}).items()})
        argv = [sys.executable if a == "python" else self.mapped(a) for a in argv]
        if background:  # output to a file: a pipe nobody reads fills up and stalls the process
            log = open(self.folder / f"background-{len(self.logs)}.log", "w+")  # noqa: SIM115 (closed in stop)
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(argv, cwd=self.folder, env=full_env, stdout=log, stderr=subprocess.STDOUT)
            )
            return self.procs[-1]
        return subprocess.run(argv, cwd=self.folder, env=full_env, capture_output=True, text=True, timeout=timeout)

    def check(self, proc, command):
        output = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert proc.returncode == 0, (
            f"{command.page}:{command.line}: `{command.text}` exited {proc.returncode}:\n{output}"
        )
        assert "Traceback" not in proc.stderr, f"{command.page}:{command.line}: `{command.text}`:\n{output}"
        noise = NOISE.findall(proc.stderr)
        assert not noise, f"{command.page}:{command.line}: `{command.text}` printed TensorFlow's log lines: {noise}"
        return proc

    def wait_for_model(self, model, command, seconds=180):
        """Waits until the page's server has `model` available, as a reader would."""
        url = f"http://127.0.0.1:{self.ports['8501']}/v1/models/{model}"
        deadline = time.time() + seconds
        while time.time() < deadline:
            for server in self.servers:
                assert server.poll() is None, f"{command.page}: the server exited:\n{self.read(server)}"
            with contextlib.suppress(OSError, ValueError):
                states = json.load(urllib.request.urlopen(url, timeout=2))["model_version_status"]
                if any(s["state"] == "AVAILABLE" for s in states):
                    return
            time.sleep(0.5)
        pytest.fail(f"{command.page}:{command.line}: {model} was not available within {seconds} s")

    def stop(self):
        try:
            for server in self.servers:
                server.send_signal(signal.SIGTERM)
                server.wait(60)
            for job, command in self.background:
                job.wait(900)
                assert job.returncode == 0, f"{command.page}:{command.line}: `{command.text}`:\n{self.read(job)}"
            for server in self.servers:
                assert "Traceback" not in self.read(server), f"{self.page}: the server's output:\n{self.read(server)}"
        finally:
            for log in self.logs:
                log.close()

    def read(self, proc):
        log = self.logs[self.procs.index(proc)]
        log.seek(0)
        return log.read()[-3000:]

    # One method per kind of command.

    def job(self, command, monkeypatch):
        module = importlib.import_module(command.program)
        if external_paths(command.args):
            calls = []

            def parse_only(*args, **kwargs):
                calls.append(real_parse(*args, **kwargs))
                raise Parsed

            from keras_l11.training import cli

            real_parse = cli.parse_flags
            monkeypatch.setattr(cli, "parse_flags", parse_only)
            with pytest.raises(Parsed):
                module.main(command.args)
            monkeypatch.undo()
            assert calls and calls[0].config == command.args[command.args.index("--config") + 1]
            return "parsed (needs data a test cannot have)"
        argv = smoke_argv(command.args)
        if command.env or OWN_PROCESS_FLAGS & set(command.args) or command.background:
            proc = self.run(["python", "-m", command.program, *argv], command.env, background=command.background)
            if command.background:
                self.background.append((proc, command))
                return "started"
            self.check(proc, command)
            return "ran in its own process"
        threads = ["--intra_op_threads", "0", "--inter_op_threads", "0"]  # TensorFlow already runs here
        monkeypatch.chdir(self.folder)
        module.main(argv + threads)
        return "ran"

    def server(self, command):
        proc = self.run(command.argv, command.env, background=True)
        self.servers.append(proc)
        deadline = time.time() + 120
        while time.time() < deadline:
            assert proc.poll() is None, f"{command.page}:{command.line}: the server exited:\n{self.read(proc)}"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.ports['8501']}/v1/models/_", timeout=2)
            except urllib.error.HTTPError:  # it answers (404: no such model)
                config = next(a.split("=", 1)[-1] for a in command.args if "models.config" in a)
                for model in re.findall(r'name: "(\w+)"', (self.folder / config).read_text()):
                    self.wait_for_model(model, command)
                return "serving"
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"{command.page}:{command.line}: the server did not answer")

    def curl(self, command):
        url = next(a for a in command.args if "/v1/models/" in a)
        self.wait_for_model(re.search(r"/v1/models/(\w+)", url).group(1), command)
        proc = self.check(self.run(command.argv), command)
        answer = json.loads(proc.stdout)
        assert "error" not in answer, f"{command.page}:{command.line}: {answer}"
        return "answered"

    def prepare(self, command):
        """A data-preparation pipeline: run on the offline data at smoke size; on
        data a test cannot have (TFDS's VOC or UCF-101, a reader's folder) or a
        cluster runner, `--help`."""
        args = command.args
        data = args[args.index("--data") + 1] if "--data" in args else ""
        if data != "digits" and not (self.folder / data).exists() or any(a.startswith("--runner") for a in args):
            self.check(self.run([*command.argv, "--help"]), command)
            return "--help (its data or its cluster a test cannot have)"
        smoke = ["smoke" if i and args[i - 1] == "--config" else a for i, a in enumerate(args)]
        self.check(self.run(["python", "-m", command.program, *smoke]), command)
        return "ran at smoke size"

    def client(self, command):
        if missing_inputs(command.args, self.folder):
            self.check(self.run([*command.argv, "--help"]), command)
            return "--help (its input is the reader's own file)"
        if "--server" in command.args and "--model" in command.args:
            self.wait_for_model(command.args[command.args.index("--model") + 1], command)
        self.check(self.run(command.argv, command.env), command)
        return "ran"


def ci_script():
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        return f.read()


def extras():
    from importlib import metadata

    return set(metadata.metadata("keras_l11").get_all("Provides-Extra") or ())


def is_command(module):
    """Whether `python -m module` does something: a module with a `__main__` guard or
    a package with `__main__.py` (anything else runs silently and exits 0)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"no module {module}"
    if spec.submodule_search_locations:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    with open(spec.origin) as f:
        return 'if __name__ == "__main__":' in f.read()


def run_command(reader, command, monkeypatch):
    program = command.program
    if command.argv[:2] == ["python", "-m"] and program not in CI_PROGRAMS:
        assert is_command(program), f"{command.page}:{command.line}: `python -m {program}` is not a command"
    if program in NOT_ON_THIS_MACHINE:
        named = [a for a in command.args for a in re.findall(r"(?:^|[=:])((?:serving|saved_models)/[\w./-]+)", a)]
        for path in named:
            if not path.startswith("saved_models"):
                assert os.path.exists(os.path.join(ROOT, path)), f"{command.page}:{command.line}: no {path}"
        return f"not run ({program} is not on this machine); files named exist"
    if program in CI_PROGRAMS:
        if program == "pip":
            extra = re.search(r"\[(\w+)\]", " ".join(command.args))
            assert command.args[:2] == ["install", "-e"], command.text
            assert not extra or extra.group(1) in extras(), f"{command.page}:{command.line}: no extra {extra.group(1)}"
            return "install command checked (CI runs it)"
        if command.args[:1] == ["serve"]:
            reader.check(reader.run(["mkdocs", "serve", "--help"]), command)
            return "--help"
        assert shlex.join(command.argv).replace("python -m pytest", "pytest") in ci_script().replace(
            "python -m pytest", "pytest"
        ), f"{command.page}:{command.line}: `{command.text}` is not in .ci/run"
        return "run by .ci/run"
    if "--help" in command.args:
        reader.check(reader.run(command.argv), command)
        return "--help, as written"
    if program == "keras_l11.data.install":
        reader.check(reader.run([*command.argv, "--check"]), command)
        return "--check"
    if program == "quickstart.py":
        ports = ["--port", reader.ports["8500"], "--rest_api_port", reader.ports["8501"]]
        proc = reader.check(reader.run([*command.argv, "--config", "smoke", *ports], timeout=900), command)
        assert "identical to the in-process SavedModel call" in proc.stdout, proc.stdout[-2000:]
        return "ran at smoke size"
    if program.startswith("train."):
        return reader.job(command, monkeypatch)
    if program in SERVERS:
        return reader.server(command)
    if program == "curl":
        return reader.curl(command)
    if program.startswith("benchmarks."):
        reader.check(reader.run([*command.argv, "--help"]), command)
        return "--help"
    if program.startswith("keras_l11.") and program.endswith(".prepare"):
        return reader.prepare(command)
    if program.startswith("keras_l11."):
        return reader.client(command)
    raise AssertionError(f"{command.page}:{command.line}: no rule for `{command.text}`")


PAGES = [page for page in documented_commands.pages() if documented_commands.commands_of(page)]
ALREADY_RUN = {}  # command text -> where it ran first (the home page repeats the README's)


def test_every_page_is_read_and_every_command_has_a_rule():
    commands = documented_commands.extract()
    assert len(commands) > 80 and {c.page for c in commands} >= {"README.md", "docs/serving/index.md"}


def test_commands_quoted_in_the_prose_name_real_commands():
    """Inline commands (`python -m benchmarks.ntm`) are not run (the bash blocks are),
    but each must name a module that is a command, or a script that exists."""
    quoted = documented_commands.inline_commands()
    assert len(quoted) > 10
    for page, text in quoted:
        argv = shlex.split(text)
        if argv[1] == "-m":
            assert is_command(argv[2]), f"{page}: `{text}`: {argv[2]} is not a command"
        else:
            assert os.path.exists(os.path.join(ROOT, argv[1])), f"{page}: `{text}`: no {argv[1]}"


@pytest.mark.parametrize("page", PAGES)
def test_the_commands_of_each_page_run_as_written(page, checkout, monkeypatch, capsys):
    commands = documented_commands.commands_of(page)
    reader = Reader(checkout, page)
    outcomes = []
    try:
        for command in commands:
            started = time.monotonic()
            if command.text in ALREADY_RUN and not command.background:
                outcome = f"as {ALREADY_RUN[command.text]}"
            else:
                outcome = run_command(reader, command, monkeypatch)
                ALREADY_RUN.setdefault(command.text, f"{command.page}:{command.line}")
            outcomes.append(f"{time.monotonic() - started:6.1f} s  {outcome:<45}  {command.text[:90]}")
    finally:
        reader.stop()
    with capsys.disabled():
        print(f"\n{page}:\n" + "\n".join(outcomes))
