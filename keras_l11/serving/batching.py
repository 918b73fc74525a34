"""Dynamic batching with TF Serving's rules (`--enable_batching`).

What TF Serving does, read from its sources, and what this module does the same way:

- One queue per (model version, signature); requests to a signature share it whatever
  their shapes (`batching_session.cc`, one scheduler per batching signature). Every
  signature of a batched model is batched, so every input needs a leading batch
  dimension of the same size (`batching_util.h`, `ComputeTensorBatchSize`).
- A request larger than `max_batch_size` rows is refused before any work,
  INVALID_ARGUMENT "Task size N is larger than maximum input batch size M"; a full
  queue answers UNAVAILABLE (`shared_batch_scheduler.h`, `ValidateBatchTaskQueueCapacity`).
- Tasks fill the open batch up to its size limit, then a new batch opens; a batch
  runs when it is closed, full, or its first task waited `batch_timeout_micros`.
  One pool of `num_batch_threads` threads serves every queue, round robin
  (`SharedBatchScheduler`).
- Inputs of different shapes in one batch fail the whole batch, FAILED_PRECONDITION,
  unless `pad_variable_length_inputs`: then each input is padded at the end of every
  non-batch dimension to the batch's largest size, with its own first element
  (`batching_util.cc`, `AddPadding`). Outputs come back at the padded size.
- `allowed_batch_sizes`: the batch is padded with copies of the last task's first row
  up to the smallest allowed size that holds it; the padding rows' outputs are dropped
  (`MergeInputTensors`, `SplitOutputTensors`).
- `enable_large_batch_splitting`: a task is split to fill the open batch and then
  whole batches of `max_execution_batch_size` rows; its outputs are put back together
  (`SplitInputTask`).
- Deadlines: the batch runs with the latest deadline of its tasks; when every task's
  deadline passed in the queue it fails RESOURCE_EXHAUSTED without running
  (`ProcessBatch`).
"""

import collections
import dataclasses
import os
import threading
import time

import grpc
import numpy as np

from keras_l11.serving.errors import ServingError, failed_precondition, invalid


@dataclasses.dataclass
class BatchingParameters:
    """TF Serving's `BatchingParameters` (session_bundle_config.proto), with the
    defaults it uses for an unset field (shared_batch_scheduler.h)."""

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    enable_large_batch_splitting: bool = False
    max_execution_batch_size: int = 1000
    allowed_batch_sizes: tuple = ()
    pad_variable_length_inputs: bool = False

    @classmethod
    def from_text(cls, text):
        """Parses a text-format BatchingParameters and checks it as TF Serving does
        when it creates the queue; raises `ServingError` (INVALID_ARGUMENT)."""
        from keras_l11.serving.textproto import BATCHING_SCHEMA, TextProtoError, parse

        try:
            fields = parse(text, BATCHING_SCHEMA)
        except TextProtoError as err:
            raise invalid(f"Error parsing text-format tensorflow.serving.BatchingParameters: {err}") from None
        values = {k: (v["value"] if isinstance(v, dict) else v) for k, v in fields.items() if k != "thread_pool_name"}
        if "allowed_batch_sizes" in values:
            sizes = values["allowed_batch_sizes"]
            values["allowed_batch_sizes"] = tuple(sizes if isinstance(sizes, list) else [sizes])
        params = cls(**values)
        params.validate()
        return params

    @property
    def execution_batch_size(self):
        """The largest batch that runs (shared_batch_scheduler.h, `max_execution_batch_size()`)."""
        return self.max_execution_batch_size if self.enable_large_batch_splitting else self.max_batch_size

    def validate(self):
        """The checks of `AddQueueAfterRewritingOptions` and `WrapSessionForBatching`."""
        if self.max_batch_size <= 0:
            raise invalid(f"input_batch_size_limit must be positive; was {self.max_batch_size}")
        if self.batch_timeout_micros < 0:
            raise invalid(f"batch_timeout_micros must be non-negative; was {self.batch_timeout_micros}")
        if self.max_enqueued_batches <= 0:
            raise invalid(f"max_enqueued_batches must be positive; was {self.max_enqueued_batches}")
        if self.num_batch_threads <= 0:
            raise invalid(f"num_batch_threads must be positive; was {self.num_batch_threads}")
        if self.enable_large_batch_splitting and self.max_batch_size < self.max_execution_batch_size:
            raise invalid(
                "When enable_large_batch_splitting is true, input_batch_size_limit must be greater than or "
                "equal to max_execution_batch_size."
            )
        if self.allowed_batch_sizes and self.allowed_batch_sizes[-1] != self.max_batch_size:
            raise invalid(
                "Last entry in allowed_batch_sizes must match max_batch_size; last entry was "
                f"{self.allowed_batch_sizes[-1]}; expected {self.max_batch_size}"
            )


def batch_size_of(inputs):
    """The request's rows, with `ComputeTensorBatchSize`'s errors."""
    if not inputs:
        raise invalid("Batching Run() must have at least one input tensor")
    sizes = set()
    for array in inputs.values():
        if np.ndim(array) == 0:
            raise invalid("Batching Run() input tensors must have at least one dimension")
        sizes.add(array.shape[0])
    if len(sizes) > 1:
        raise invalid("Batching Run() input tensors must have equal 0th-dimension size")
    return sizes.pop()


class _Task:
    """One request; split into pieces when large batch splitting is on."""

    def __init__(self, inputs, rows, timeout_ms, pieces):
        self.inputs = inputs
        self.rows = rows
        self.enqueued = time.monotonic()
        self.deadline = self.enqueued + timeout_ms / 1000 if timeout_ms and timeout_ms > 0 else None
        self.outputs = [None] * pieces
        self.remaining = pieces
        self.error = None
        self.done = threading.Event()

    def finish(self, index, outputs=None, error=None):
        """Called once per piece, under the batcher's lock."""
        if error is not None and self.error is None:
            self.error = error
        self.outputs[index] = outputs
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set()


class _Piece:
    __slots__ = ("task", "index", "inputs", "rows")

    def __init__(self, task, index, inputs, rows):
        self.task, self.index, self.inputs, self.rows = task, index, inputs, rows


class _Batch:
    def __init__(self):
        self.pieces = []
        self.rows = 0
        self.started = None  # when its first piece arrived

    def add(self, piece):
        if not self.pieces:
            self.started = time.monotonic()
        self.pieces.append(piece)
        self.rows += piece.rows


class _Queue:
    """A signature's queue: closed batches, then the open one (`internal::Queue`)."""

    def __init__(self, servable, signature, params):
        self.servable, self.signature, self.params = servable, signature, params
        self.batches = collections.deque([_Batch()])

    def schedule(self, inputs, rows, timeout_ms):
        """Adds a request's pieces; returns its task. Raises before queueing anything."""
        p, open_batch = self.params, self.batches[-1]
        if rows > p.max_batch_size:
            raise invalid(f"Task size {rows} is larger than maximum input batch size {p.max_batch_size}")
        limit = p.execution_batch_size
        if p.enable_large_batch_splitting:
            capacity = (p.max_enqueued_batches - len(self.batches)) * limit + (limit - open_batch.rows)
            if rows > capacity:
                raise ServingError(
                    grpc.StatusCode.UNAVAILABLE,
                    f"The batch scheduling queue to which this task was submitted is full; task size is {rows} "
                    f"but scheduling capacity is only {capacity} (num_enqueued_batches={len(self.batches)}, "
                    f"max_enqueued_batches={p.max_enqueued_batches}, open_batch_size={open_batch.rows}, "
                    f"max_execution_batch_size={limit})",
                )
            sizes = _split_sizes(rows, limit - open_batch.rows, limit)
        else:
            if open_batch.rows + rows > limit and len(self.batches) >= p.max_enqueued_batches:
                raise ServingError(
                    grpc.StatusCode.UNAVAILABLE,
                    "The batch scheduling queue to which this task was submitted is full; currently "
                    f"{len(self.batches)} batches enqueued and max_enqueued_batches is {p.max_enqueued_batches}",
                )
            sizes = [rows]
        task = _Task(inputs, rows, timeout_ms, len(sizes))
        start = 0
        for index, size in enumerate(sizes):
            part = inputs if len(sizes) == 1 else {n: a[start : start + size] for n, a in inputs.items()}
            start += size
            if self.batches[-1].rows + size > limit and self.batches[-1].pieces:
                self.batches.append(_Batch())  # the open batch closes
            self.batches[-1].add(_Piece(task, index, part, size))
        return task

    def ready_at(self):
        """When this queue next has a batch to run: now (0), a time, or None (empty)."""
        if len(self.batches) > 1:
            return 0.0
        open_batch = self.batches[-1]
        if not open_batch.pieces:
            return None
        if open_batch.rows >= self.params.execution_batch_size:
            return 0.0
        return open_batch.started + self.params.batch_timeout_micros / 1e6

    def take(self):
        batch = self.batches.popleft()
        if not self.batches:
            self.batches.append(_Batch())
        return batch

    @property
    def empty(self):
        return len(self.batches) == 1 and not self.batches[0].pieces


def _split_sizes(rows, open_slot, limit):
    """`InputSplitMetadata`: fill the open batch's free rows first, then whole batches."""
    sizes = []
    if open_slot > 0:
        sizes.append(min(rows, open_slot))
        rows -= sizes[0]
    while rows > 0:
        sizes.append(min(rows, limit))
        rows -= sizes[-1]
    return sizes


class Batcher:
    """The shared batch scheduler: queues per (servable, signature), one thread pool.

    `params` holds the pool's size (`num_batch_threads`) and the queues' default
    settings; a model with its own parameters (`--enable_per_model_batching_parameters`)
    passes them to `run`.
    """

    def __init__(self, params, on_batch=None):
        self.params = params
        self.on_batch = on_batch or (lambda requests, rows: None)
        self._cond = threading.Condition()
        self._queues = {}  # (servable, signature name) -> _Queue, in round-robin order
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"batch-{i}", daemon=True) for i in range(params.num_batch_threads)
        ]
        for t in self._threads:
            t.start()

    def run(self, servable, signature, inputs, timeout_ms=0, params=None):
        """Queues the request and blocks until its rows of the batch results are back.
        A positive `timeout_ms` is the request's deadline, counted from now."""
        rows = batch_size_of(inputs)
        with self._cond:
            key = (servable, signature.name)
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = _Queue(servable, signature, params or self.params)
            task = queue.schedule(inputs, rows, timeout_ms)
            self._cond.notify_all()
        task.done.wait()
        if task.error is not None:
            raise task.error
        if len(task.outputs) == 1:
            return task.outputs[0]
        return {n: np.concatenate([part[n] for part in task.outputs]) for n in task.outputs[0]}

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _next_batch(self):
        """Under the lock: `(queue, batch)` to run next, or None when closed and drained."""
        while True:
            wake = None
            for key in list(self._queues):
                queue = self._queues[key]
                at = queue.ready_at()
                if at is not None and (at <= time.monotonic() or self._closed):
                    batch = queue.take()
                    del self._queues[key]  # round robin: this queue goes to the back
                    if not queue.empty:
                        self._queues[key] = queue
                    return queue, batch
                if at is not None:
                    wake = at if wake is None else min(wake, at)
                elif queue.empty:
                    del self._queues[key]
            if self._closed and not self._queues:
                return None
            self._cond.wait(None if wake is None else max(wake - time.monotonic(), 0.0005))

    def _work(self):
        while True:
            with self._cond:
                taken = self._next_batch()
            if taken is None:
                return
            queue, batch = taken
            results, error = None, None
            try:
                results = _process(queue, batch)
            except Exception as err:  # noqa: BLE001 - every waiting request gets the error
                error = err
            with self._cond:
                for i, piece in enumerate(batch.pieces):
                    piece.task.finish(piece.index, None if results is None else results[i], error)
            self.on_batch(len(batch.pieces), batch.rows)


def _process(queue, batch):
    """Runs one batch (`BatchingSession::ProcessBatch`); returns each piece's outputs."""
    params, pieces = queue.params, batch.pieces
    timeout_ms = _batch_timeout_ms([piece.task for piece in pieces])
    if len(pieces) == 1 and not params.allowed_batch_sizes:
        return [queue.servable.call(queue.signature, pieces[0].inputs, timeout_ms)]
    merged = {name: _merge([piece.inputs[name] for piece in pieces], name, params) for name in pieces[0].inputs}
    padding = _padding_rows(params.allowed_batch_sizes, batch.rows)
    if padding:
        merged = {
            n: np.concatenate([a, np.repeat(a[-pieces[-1].rows :][:1], padding, axis=0)]) for n, a in merged.items()
        }
    outputs = queue.servable.call(queue.signature, merged, timeout_ms)
    bounds = np.cumsum([piece.rows for piece in pieces])
    split = {}
    for name, value in outputs.items():
        if np.ndim(value) == 0:
            raise failed_precondition("Batched output tensor has 0 dimensions")
        if value.shape[0] != batch.rows + padding:
            raise failed_precondition(
                "Batched output tensor's 0th dimension does not equal the sum of the 0th dimension sizes of the "
                "input tensors"
            )
        split[name] = np.split(value, bounds)[: len(pieces)]
    return [{n: parts[i] for n, parts in split.items()} for i in range(len(pieces))]


def _merge(arrays, name, params):
    if len({a.ndim for a in arrays}) > 1 or not params.pad_variable_length_inputs:
        first = arrays[0].shape[1:]
        if any(a.shape[1:] != first for a in arrays[1:]):
            raise failed_precondition(
                f"Tensors with name '{name}' from different tasks have different shapes and padding is turned off. "
                "Set pad_variable_length_inputs to true, or ensure that all tensors with the same name have equal "
                "dimensions starting with the first dim."
            )
    else:
        target = np.max([a.shape for a in arrays], axis=0)
        arrays = [_pad(a, target) for a in arrays]
    return np.concatenate(arrays)


def _pad(array, target):
    """`AddPadding`: pad after each non-batch dimension, with the tensor's first element."""
    widths = [(0, 0)] + [(0, int(t) - s) for s, t in zip(array.shape[1:], target[1:])]
    if not any(after for _, after in widths):
        return array
    if array.ndim > 6:
        raise invalid("Only tensors with rank from 1 to 6 can be padded.")
    if array.size == 0:
        raise invalid("Got empty tensor in batch of non-empty tensors.")
    return np.pad(array, widths, constant_values=array.flat[0])


def _padding_rows(allowed, rows):
    """`RoundToLowestAllowedBatchSize` minus the batch's rows."""
    for size in allowed:
        if size >= rows:
            return size - rows
    return 0


def _batch_timeout_ms(tasks):
    """The batch's run timeout, as TF Serving's BatchingSession sets it
    (`batching_session.cc`, `ProcessBatch`): the latest deadline of its tasks (none
    if a task has none); when every task's deadline passed in the queue, the batch
    fails with RESOURCE_EXHAUSTED without running."""
    if any(task.deadline is None for task in tasks):
        return 0
    now = time.monotonic()
    latest = max(task.deadline for task in tasks)
    if latest <= now:
        raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED, "Run() timeout exceeded while waiting in batching queue")
    return max(1, int((latest - now) * 1000))
