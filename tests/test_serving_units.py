"""Serving pieces without a server: config files, the text-proto reader, the
JSON codec and the batcher's merging."""

import json
import threading
import time

import grpc
import numpy as np
import pytest

from keras_l11.serving import codec
from keras_l11.serving.batching import Batcher, BatchingParameters
from keras_l11.serving.errors import ServingError
from keras_l11.serving.server import read_model_config
from keras_l11.serving.textproto import MONITORING_SCHEMA, TextProtoError, parse


def test_text_proto_reader_is_strict():
    assert parse('prometheus_config { enable: true, path: "/m" }  # comment', MONITORING_SCHEMA) == {
        "prometheus_config": {"enable": True, "path": "/m"}
    }
    for bad in (
        "prometheus_config { enable: maybe }",
        "prometheus_config { colour: 1 }",
        "prometheus_config {",
        "nope: 1",
    ):
        with pytest.raises(TextProtoError):
            parse(bad, MONITORING_SCHEMA)
    with pytest.raises(ServingError, match="input_batch_size_limit must be positive; was 0"):
        BatchingParameters.from_text("max_batch_size { value: 0 }")


def test_unparseable_model_config_gives_tf_servings_message(tmp_path):
    path = tmp_path / "models.config"
    path.write_text("model_config_list { config { name: ")
    with pytest.raises(ServingError, match="Error parsing text-format tensorflow.serving.ModelServerConfig"):
        read_model_config(str(path))


class Spec:
    def __init__(self, dtype):
        self.dtype = dtype


def test_codec_row_and_columnar_inputs_and_outputs():
    specs = {"x": Spec("float32"), "s": Spec("string")}
    arrays, rows = codec.parse_predict_body(
        {"instances": [{"x": [1, 2], "s": {"b64": "AAE="}}, {"x": [3, 4], "s": "hi"}]}, specs
    )
    assert rows and arrays["x"].dtype == np.float32 and arrays["s"].tolist() == [b"\x00\x01", b"hi"]
    arrays, rows = codec.parse_predict_body({"inputs": {"x": [[1.5]]}}, specs)
    assert not rows and arrays["x"].shape == (1, 1)
    outputs = {"y": np.array([1.5, np.nan], np.float32), "out_bytes": np.array([b"\xff", b"a"], object)}
    assert codec.predict_response(outputs, row_format=False)["outputs"]["out_bytes"] == [
        {"b64": "/w=="},
        {"b64": "YQ=="},
    ]
    row = codec.predict_response(outputs, row_format=True)["predictions"][0]
    assert row == {"y": 1.5, "out_bytes": {"b64": "/w=="}}


@pytest.mark.parametrize(
    "body, message",
    [
        ({"instances": [1], "inputs": [1]}, "exactly one"),
        ({}, "exactly one"),
        ({"instances": [{"x": [1]}, {"x": [1, 2]}]}, "unequal"),
        ({"instances": [{"x": 1}, {"s": "a"}]}, "has keys"),
        ({"inputs": {"x": ["a"]}}, "not of expected type"),
        ({"inputs": {"x": [{"b64": "!!"}]}}, "not of expected type"),
        ({"inputs": {"s": [{"b64": "!!"}]}}, "base64"),
    ],
)
def test_codec_rejects_malformed_bodies(body, message):
    with pytest.raises(ServingError, match=message):
        codec.parse_predict_body(body, {"x": Spec("float32"), "s": Spec("string")})


@pytest.mark.parametrize(
    "value, dtype, message",
    [
        ([True, 2.0], "float32", "JSON Value: true Type: Boolean is not of expected type: float"),
        ([1, 2.0], "int32", "JSON Value: 2.0 Type: Number is not of expected type: int32"),
        ([1, 2**31], "int32", f"JSON Value: {2**31} Type: Number is not of expected type: int32"),
        ([1, 0], "bool", "JSON Value: 1 Type: Number is not of expected type: bool"),
        ([1, "a"], "float64", 'JSON Value: "a" Type: String is not of expected type: double'),
        ([1, 2], "string", "JSON Value: 1 Type: Number is not of expected type: string"),
    ],
)
def test_json_values_of_another_type_are_refused_as_tf_serving_refuses_them(value, dtype, message):
    """util/json_tensor.cc, AddValueToTensor and TypeError."""
    with pytest.raises(ServingError) as err:
        codec.json_to_array(value, dtype, "x")
    assert message in err.value.message


def test_json_numbers_of_the_right_type_are_taken():
    np.testing.assert_array_equal(codec.json_to_array([1, 2.5], "float32", "x"), np.float32([1, 2.5]))
    assert codec.json_to_array([[1, 2]], "int64", "x").dtype == np.int64
    assert codec.json_to_array([2**40], "int64", "x")[0] == 2**40
    assert codec.json_to_array([True], "bool", "x").dtype == bool


def test_the_client_casts_to_declared_dtypes_only_within_a_kind():
    from keras_l11.serving.client import _as_declared

    declared = {"x": ("DT_FLOAT", (-1,)), "n": ("DT_INT32", (-1,)), "s": ("DT_STRING", (-1,))}
    cast = _as_declared({"x": np.float64([1.5]), "n": np.float64([2.0]), "s": np.array([b"a"], object)}, declared)
    assert cast["x"].dtype == np.float32 and cast["n"].dtype == np.int32 and cast["s"].dtype == object
    assert _as_declared({"n": np.float64([2.5])}, declared) is None  # a fraction is never made an integer
    assert _as_declared({"x": np.array([True])}, declared) is None  # nor a boolean a number


def test_float32_values_survive_json_exactly():
    values = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    import json

    back = np.array(json.loads(json.dumps(codec.array_to_json(values, "y"))), np.float32)
    np.testing.assert_array_equal(back, values)
    # ... and short, in float32's own precision (json_tensor.cc, WriteDecimal), not float64's
    assert json.dumps(codec.array_to_json(np.float32([[3.1, 2.0, 1e-5]]), "y")) == "[[3.1, 2.0, 1e-05]]"


class FakeSignature:
    name = "serving_default"


class FakeServable:
    def __init__(self):
        self.calls = []
        self.gate = threading.Event()

    def call(self, signature, inputs, timeout_ms=0):
        self.gate.wait(5)
        self.calls.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2}


def test_batcher_merges_up_to_max_batch_size_and_splits_results():
    batcher = Batcher(BatchingParameters(max_batch_size=4, batch_timeout_micros=200_000, num_batch_threads=1))
    servable, results = FakeServable(), {}

    def request(i):
        results[i] = batcher.run(servable, FakeSignature(), {"x": np.array([i, i + 100])})["y"]

    threads = [threading.Thread(target=request, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    servable.gate.set()
    for t in threads:
        t.join(10)
    batcher.close()
    assert sorted(servable.calls) == [4, 4]  # 8 rows in batches of at most 4 rows
    for i in range(4):
        np.testing.assert_array_equal(results[i], [2 * i, 2 * (i + 100)])


class Recorder:
    """A servable that records the batches it runs: y = 2x, one row per input row."""

    def __init__(self):
        self.batches = []

    def call(self, signature, inputs, timeout_ms=0):
        self.batches.append(inputs["x"].copy())
        return {"y": inputs["x"] * 2}


def run_together(batcher, servable, requests):
    """Runs the requests at once; returns each one's result or error."""
    results = [None] * len(requests)

    def one(i):
        try:
            results[i] = batcher.run(servable, FakeSignature(), requests[i])
        except ServingError as err:
            results[i] = err

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
        time.sleep(0.02)  # in this order
    for t in threads:
        t.join(10)
    return results


def test_batching_parameters_are_checked_with_tf_servings_messages():
    """bundle_factory_util.cc (WrapSessionForBatching) and shared_batch_scheduler.h (AddQueue)."""
    with pytest.raises(
        ServingError, match="Last entry in allowed_batch_sizes must match max_batch_size; last entry was 8; expected 16"
    ):
        BatchingParameters.from_text("max_batch_size { value: 16 } allowed_batch_sizes: 4 allowed_batch_sizes: 8")
    with pytest.raises(ServingError, match="input_batch_size_limit must be greater than or equal to max_execution"):
        BatchingParameters.from_text("max_batch_size { value: 16 } enable_large_batch_splitting { value: true }")
    params = BatchingParameters.from_text(
        "max_batch_size { value: 16 } allowed_batch_sizes: 4 allowed_batch_sizes: 16 pad_variable_length_inputs: true"
    )
    assert (params.allowed_batch_sizes, params.pad_variable_length_inputs, params.max_enqueued_batches) == (
        (4, 16),
        True,
        10,
    )


def test_allowed_batch_sizes_pad_the_batch_with_the_last_tasks_first_row_and_drop_it():
    """batching_session.cc, MergeInputTensors / SplitOutputTensors."""
    params = BatchingParameters(
        max_batch_size=8, batch_timeout_micros=300_000, num_batch_threads=1, allowed_batch_sizes=(4, 8)
    )
    batcher, servable = Batcher(params), Recorder()
    a, b = run_together(batcher, servable, [{"x": np.array([1.0, 2.0])}, {"x": np.array([3.0])}])
    batcher.close()
    np.testing.assert_array_equal(servable.batches[0], [1.0, 2.0, 3.0, 3.0])  # padded to 4 with b's first row
    np.testing.assert_array_equal(a["y"], [2.0, 4.0])
    np.testing.assert_array_equal(b["y"], [6.0])


def test_large_batch_splitting_fills_the_open_batch_then_runs_whole_batches():
    """shared_batch_scheduler.h, Schedule with enable_large_batch_splitting; batching_session.cc, SplitInputTask."""
    params = BatchingParameters(
        max_batch_size=8,
        batch_timeout_micros=300_000,
        num_batch_threads=1,
        enable_large_batch_splitting=True,
        max_execution_batch_size=3,
    )
    batcher, servable = Batcher(params), Recorder()
    a, b = run_together(batcher, servable, [{"x": np.array([1.0])}, {"x": np.arange(10.0, 17.0)}])
    batcher.close()
    assert [len(x) for x in servable.batches] == [3, 3, 2]  # 1 + 2 of b, then 3 and 2 of b
    np.testing.assert_array_equal(a["y"], [2.0])
    np.testing.assert_array_equal(b["y"], np.arange(10.0, 17.0) * 2)
    with pytest.raises(ServingError, match="Task size 9 is larger than maximum input batch size 8"):
        Batcher(params).run(servable, FakeSignature(), {"x": np.zeros(9)})


def test_a_full_queue_refuses_at_once_and_a_mismatched_batch_fails_together():
    """shared_batch_scheduler.h (UNAVAILABLE when max_enqueued_batches are queued) and
    batching_session.cc:536 (different shapes without padding: FAILED_PRECONDITION for every task)."""
    params = BatchingParameters(
        max_batch_size=3, batch_timeout_micros=300_000, max_enqueued_batches=1, num_batch_threads=1
    )
    batcher, servable = Batcher(params), Recorder()
    first, second, third = run_together(
        batcher, servable, [{"x": np.zeros((1, 3))}, {"x": np.zeros((1, 4))}, {"x": np.zeros((2, 3))}]
    )
    batcher.close()
    assert third.code == grpc.StatusCode.UNAVAILABLE and "max_enqueued_batches is 1" in third.message
    for err in (first, second):
        assert err.code == grpc.StatusCode.FAILED_PRECONDITION and "padding is turned off" in err.message
    assert servable.batches == []


def test_float32_outputs_print_as_tf_serving_writes_them():
    """json_tensor.cc, WriteDecimal: `%.6g` when it reads back as the same float32,
    else `%.9g`; checked value by value against that rule over float32's whole range."""
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.random(20_000),
            rng.standard_normal(20_000) * 10.0 ** rng.integers(-44, 38, 20_000),
            [3.1, 0.1, 2.0, 1e-5, 999999.5, 1e13, 9.999999e12, -0.0, 0.0, 1e-45, 3.4e38, np.inf, -np.inf],
        ]
    ).astype(np.float32)

    def rule(value):
        if not np.isfinite(value) or value == 0:
            return float(value)
        text = f"{float(value):.6g}"
        return float(text if np.float32(text) == value else f"{float(value):.9g}")

    got = codec.float32_json_values(values)
    np.testing.assert_array_equal(got, [rule(v) for v in values])
    assert json.dumps(codec.array_to_json(np.float32([0.2, 0.62503475]), "y")) == "[0.2, 0.62503475]"
