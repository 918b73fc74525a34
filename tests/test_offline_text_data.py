"""Offline text (docs: data): the Bible verse pairs, Moby-Dick, the PTB reader and vocabularies."""

import subprocess
import sys

import pytest

from keras_l11.data import install
from keras_l11.language import parallel, words
from keras_l11.layers.tokenizers import EOS


def test_install_check_reports_everything_present():
    proc = subprocess.run(
        [sys.executable, "-m", "keras_l11.data.install", "--check"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "missing" not in proc.stdout


def test_the_mnist_unpickler_builds_arrays_and_nothing_else():
    import io
    import pickle

    import numpy as np

    arrays = (np.zeros((2, 784), np.float32), np.arange(2))
    loaded = install._ArrayUnpickler(io.BytesIO(pickle.dumps(arrays, protocol=4))).load()
    np.testing.assert_array_equal(loaded[1], arrays[1])
    with pytest.raises(pickle.UnpicklingError, match="refusing os.system"):
        install._ArrayUnpickler(io.BytesIO(b"cos\nsystem\n(S'true'\ntR.")).load()


def test_bible_verse_pairs_are_aligned():
    pairs = parallel.bible_pairs()
    assert len(pairs) == 31_084  # the two modules' shared verses
    assert pairs[0] == (
        "EN el principio crió Dios los cielos y la tierra.",
        "In the beginning God created the heaven and the earth.",
    )
    assert pairs[-1][1].startswith("The grace of our Lord Jesus Christ be with you all.")
    train, test = parallel.split_pairs(pairs, 500, seed=0)
    assert len(test) == 500 and len(train) == len(pairs) - 500
    assert sorted(train + test) == sorted(pairs)  # a partition
    assert parallel.split_pairs(pairs, 500, seed=0)[1] == test


def test_moby_dick_paragraphs_and_vocabulary():
    paragraphs = words.moby_dick_paragraphs()
    assert paragraphs[0].startswith("CHAPTER 1. Loomings.")
    assert 2000 < len(paragraphs) < 5000 and all("\n" not in p for p in paragraphs[:50])
    train, test = words.split_paragraphs(paragraphs, 0.1)
    tok = words.word_tokenizer(train, max_size=5000, min_count=2)
    assert set(tok.vocabulary[:3]) == {"the", ",", "."}  # most frequent first
    assert tok.vocab_size == 5000 + 2  # the 5,000 most frequent, <pad> and <unk>
    ids = words.token_ids(tok, test)
    assert (ids == tok.unk_id).mean() < 0.1 and (ids == tok.start_id).sum() == test.count("\n")


def test_ptb_reader_keeps_its_tokens_and_unk(tmp_path):
    lines = {"train": " the cat sat on the mat \n a <unk> sat N times \n", "valid": " the mat \n", "test": " a cat \n"}
    for split, text in lines.items():
        (tmp_path / f"ptb.{split}.txt").write_text(text)
    texts = words.read_ptb(str(tmp_path))
    tok = words.word_tokenizer(texts["train"], 100, 1, lowercase=False, split_punctuation=False)
    assert "<unk>" not in tok.vocabulary and "N" in tok.vocabulary and EOS in tok.vocabulary
    ids = words.token_ids(tok, texts["train"]).tolist()
    assert ids.count(tok.start_id) == 2 and ids[6] == tok.start_id and ids[8] == tok.unk_id
    (tmp_path / "ptb.test.txt").unlink()
    with pytest.raises(FileNotFoundError, match="ptb.test.txt"):
        words.read_ptb(str(tmp_path))


def test_a_missing_data_set_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_L11_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="python -m keras_l11.data.install"):
        words.moby_dick_paragraphs()
    assert install.moby_dick_path().startswith(str(tmp_path))


@pytest.mark.parametrize(
    "job, message",
    [
        ("char_rnn", "needs --data_path"),
        ("word_rnn", "needs --data_path"),
        ("translate", "not prepared in TFDS"),
        ("rcnn", "voc/2007 is not prepared in TFDS"),
        ("localization", "voc/2007 is not prepared in TFDS"),
        ("fcn", "needs --data_path"),
        ("depth", "nyu_depth_v2 is not prepared in TFDS"),
        ("two_stream", "ucf101/ucf101_1_256 is not prepared in TFDS"),
        ("lrcn", "ucf101/ucf101_1_256 is not prepared in TFDS"),
        ("video_fusion", "ucf101/ucf101_1_256 is not prepared in TFDS"),
        ("captioning", "coco_captions is not prepared in TFDS"),
        ("retrieval", "coco_captions is not prepared in TFDS"),
    ],
)
def test_paper_configs_without_their_data_say_what_is_missing(job, message, tmp_path, monkeypatch):
    import importlib

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))  # never a data set prepared on this machine

    args = ["--config", "paper", "--model_dir", str(tmp_path / "run"), "--no_export", "--progress", "none"]
    args += ["--intra_op_threads", "0", "--inter_op_threads", "0", "--serving_config", ""]
    if job == "translate":
        args += ["--tfds_dir", str(tmp_path / "tfds")]
    with pytest.raises(SystemExit) as exc:
        importlib.import_module(f"train.{job}").main(args)
    assert str(exc.value.code).startswith("error: ") and message in str(exc.value.code)
