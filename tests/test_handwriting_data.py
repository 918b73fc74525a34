"""Handwriting data: the IAM-OnDB reader, offsets, normalisation, synthetic writers."""

import numpy as np
import pytest

from keras_l11.handwriting import data as hw

IAM_XML = """<?xml version="1.0" encoding="ISO-8859-1"?>
<WhiteboardCaptureSession>
  <WhiteboardDescription><SensorLocation corner="top_left"/></WhiteboardDescription>
  <StrokeSet>
    <Stroke colour="black" start_time="1.0" end_time="1.2">
      <Point x="1000" y="500" time="1.00"/>
      <Point x="1010" y="490" time="1.01"/>
      <Point x="1025" y="495" time="1.02"/>
    </Stroke>
    <Stroke colour="black" start_time="1.5" end_time="1.6">
      <Point x="1100" y="520" time="1.50"/>
      <Point x="1104" y="530" time="1.51"/>
    </Stroke>
  </StrokeSet>
</WhiteboardCaptureSession>
"""

IAM_ASCII = """OCR:

A MOVE to stop Mr. Gaitskell
from nominating any more Labour

CSR:

A MOVE to stop Mr. Gaitskell
from nominating any more Labour
"""


def test_iam_reader_parses_a_written_file_exactly(tmp_path):
    (tmp_path / "a01-000u-01.xml").write_text(IAM_XML, encoding="iso-8859-1")
    (tmp_path / "a01-000u.txt").write_text(IAM_ASCII)
    points = hw.read_iam_strokes(str(tmp_path / "a01-000u-01.xml"))
    expected = [[1000, 500, 0], [1010, 490, 0], [1025, 495, 1], [1100, 520, 0], [1104, 530, 1]]
    np.testing.assert_array_equal(points, np.asarray(expected, np.float32))
    assert hw.read_iam_transcripts(str(tmp_path / "a01-000u.txt")) == [
        "A MOVE to stop Mr. Gaitskell",
        "from nominating any more Labour",
    ]
    offsets = hw.to_offsets(points)
    np.testing.assert_array_equal(offsets[:3], [[0, 0, 0], [10, 10, 0], [15, -5, 1]])  # y now points up
    np.testing.assert_allclose(hw.to_points(offsets)[:, :2], points[:, :2] * [1, -1] - [0, -500] - [1000, 0])
    (tmp_path / "empty.xml").write_text("<WhiteboardCaptureSession><StrokeSet/></WhiteboardCaptureSession>")
    with pytest.raises(ValueError, match="no <Stroke>"):
        hw.read_iam_strokes(str(tmp_path / "empty.xml"))


def test_iam_lines_pair_each_stroke_file_with_its_transcript_line(tmp_path):
    strokes = tmp_path / "lineStrokes" / "a01" / "a01-000"
    ascii_dir = tmp_path / "ascii" / "a01" / "a01-000"
    strokes.mkdir(parents=True)
    ascii_dir.mkdir(parents=True)
    for line in ("01", "02", "03"):  # line 03 has no transcript line
        (strokes / f"a01-000u-{line}.xml").write_text(IAM_XML, encoding="iso-8859-1")
    (ascii_dir / "a01-000u.txt").write_text(IAM_ASCII)
    lines, missing = hw.read_iam_lines(str(tmp_path))
    assert [text for _, text in lines] == ["A MOVE to stop Mr. Gaitskell", "from nominating any more Labour"]
    assert missing == 1
    np.testing.assert_array_equal(lines[0][0], hw.to_offsets(hw.read_iam_strokes(str(strokes / "a01-000u-01.xml"))))


def test_normaliser_scales_offsets_to_unit_deviation_and_back():
    rng = np.random.default_rng(0)
    sequences = [np.concatenate([rng.normal(0, [3.0, 7.0], (50, 2)), np.zeros((50, 1))], 1) for _ in range(4)]
    norm = hw.Normaliser.fit(sequences)
    scaled = np.concatenate([norm.apply(s) for s in sequences])
    np.testing.assert_allclose(scaled[:, :2].std(axis=0), [1.0, 1.0], rtol=1e-4)
    np.testing.assert_allclose(norm.invert(norm.apply(sequences[0])), sequences[0], rtol=1e-5)


def test_synthetic_handwriting_is_reproducible_and_well_formed():
    a = hw.synthetic_dataset(12, num_writers=4, seed=3)
    b = hw.synthetic_dataset(12, num_writers=4, seed=3)
    for (oa, ta, wa), (ob, tb, wb) in zip(a, b):
        assert ta == tb and wa == wb
        np.testing.assert_array_equal(oa, ob)
    for offsets, text, writer in a:
        assert offsets.dtype == np.float32 and offsets.shape[1] == 3
        assert set(np.unique(offsets[:, 2])) <= {0.0, 1.0} and offsets[-1, 2] == 1.0
        assert offsets[:, 2].sum() >= len(text.split())  # at least a stroke per word
        assert 0 <= writer < 4 and set(text) <= set(hw.ALPHABET)


def test_writers_have_styles_of_their_own():
    """The same word by two writers differs more than two copies by one writer."""
    rng = np.random.default_rng(0)
    styles = hw.writers(2, seed=5)

    def extent(offsets):
        p = hw.to_points(offsets)
        return np.ptp(p[:, 0]), np.ptp(p[:, 1]), len(p)

    same = [extent(hw.synthesize("water", styles[0], rng)) for _ in range(5)]
    other = [extent(hw.synthesize("water", styles[1], rng)) for _ in range(5)]
    within = np.std(same, axis=0) + np.std(other, axis=0)
    between = np.abs(np.mean(same, axis=0) - np.mean(other, axis=0))
    assert np.any(between > 2 * within), (styles, same, other)


def test_the_paper_split_trains_on_train_test_and_validation2_and_scores_validation1(tmp_path):
    """Graves (2013, section 4) on IAM-OnDB's task lists: trained on the training set,
    the test set and the larger validation set; scored on the smaller one, whole."""
    from benchmarks import paper_data

    forms = {
        "train": ["a01-000u", "a01-001w"],
        "validation1": ["c03-081a"],
        "validation2": ["d04-012b"],
        "test": ["e05-100z"],
    }
    written = paper_data.write_iam_ondb(str(tmp_path), forms, points=(60, 900))
    train, test, missing = hw.graves_split(str(tmp_path))
    assert missing == 0 and len(train) == 2 * 4 and len(test) == 2
    trained = {t for _, t in train}
    assert trained == {t for f in ("a01-000u", "a01-001w", "d04-012b", "e05-100z") for _, t in written[f]}
    for (offsets, text), (points, want_text) in zip(test, written["c03-081a"]):
        assert text == want_text
        np.testing.assert_array_equal(offsets, hw.to_offsets(points))  # every point, however long the line
    (tmp_path / "testset_t.txt").unlink()
    with pytest.raises(FileNotFoundError, match="testset_t.txt"):
        hw.graves_split(str(tmp_path))
