"""Dynamic batching: concurrent requests to one signature run as one call.

TF Serving's `--enable_batching` semantics with its `BatchingParameters`:
requests whose inputs have a leading batch dimension and otherwise identical
shapes and dtypes are queued per (model version, signature, shapes); a batch
thread takes the oldest queue and, once it holds `max_batch_size` rows or its
oldest request has waited `batch_timeout_micros`, concatenates the requests
along axis 0, runs the signature once and splits the outputs back. With a
timeout of 0 a batch is whatever queued while the threads were busy, so a
lone request is never delayed. A full queue (`max_enqueued_batches` batches)
answers UNAVAILABLE at once rather than letting latency grow without bound.
"""

import collections
import dataclasses
import threading
import time

import grpc
import numpy as np

from keras_l11.serving.errors import ServingError


@dataclasses.dataclass
class BatchingParameters:
    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 100
    num_batch_threads: int = 4

    @classmethod
    def from_text(cls, text):
        from keras_l11.serving.textproto import BATCHING_SCHEMA, parse

        fields = parse(text, BATCHING_SCHEMA)
        known = {f.name for f in dataclasses.fields(cls)}
        params = cls(**{k: v["value"] for k, v in fields.items() if k in known})
        if params.max_batch_size < 1 or params.num_batch_threads < 1 or params.max_enqueued_batches < 1:
            raise ValueError("max_batch_size, num_batch_threads and max_enqueued_batches must be positive")
        return params


class _Task:
    __slots__ = ("inputs", "rows", "enqueued", "deadline", "done", "outputs", "error")

    def __init__(self, inputs, rows, timeout_ms=0):
        self.inputs = inputs
        self.rows = rows
        self.enqueued = time.monotonic()
        self.deadline = self.enqueued + timeout_ms / 1000 if timeout_ms and timeout_ms > 0 else None
        self.done = threading.Event()
        self.outputs = None
        self.error = None


class Batcher:
    def __init__(self, params, on_batch=None):
        self.params = params
        self.on_batch = on_batch or (lambda requests, rows: None)
        self._cond = threading.Condition()
        self._queues = collections.OrderedDict()  # key -> (servable, signature, deque of tasks)
        self._queued_rows = 0
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"batch-{i}", daemon=True) for i in range(params.num_batch_threads)
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def can_batch(signature, inputs):
        if not signature.batchable or not inputs:
            return False
        sizes = {a.shape[0] if a.ndim else None for a in inputs.values()}
        return len(sizes) == 1 and None not in sizes

    def run(self, servable, signature, inputs, timeout_ms=0):
        """Blocks until the request's slice of a batch result is ready; `timeout_ms`
        (positive) is the request's deadline, counted from now."""
        rows = next(iter(inputs.values())).shape[0]
        key = (id(servable), signature.name, tuple(sorted((n, a.shape[1:], a.dtype.str) for n, a in inputs.items())))
        task = _Task(inputs, rows, timeout_ms)
        with self._cond:
            limit = self.params.max_enqueued_batches * self.params.max_batch_size
            if self._queued_rows + rows > limit:
                raise ServingError(
                    grpc.StatusCode.UNAVAILABLE, "The batch scheduling queue to which this task was submitted is full"
                )
            entry = self._queues.get(key)
            if entry is None:
                entry = self._queues[key] = (servable, signature, collections.deque())
            entry[2].append(task)
            self._queued_rows += rows
            self._cond.notify()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _take_batch(self):
        """Under the lock: the next batch to run, or None to stop."""
        timeout = self.params.batch_timeout_micros / 1e6
        while True:
            if self._closed and not self._queues:
                return None
            if not self._queues:
                self._cond.wait()
                continue
            key, (servable, signature, tasks) = next(iter(self._queues.items()))  # oldest queue first
            queued = sum(t.rows for t in tasks)
            waited = time.monotonic() - tasks[0].enqueued
            if queued < self.params.max_batch_size and waited < timeout and not self._closed:
                self._cond.wait(timeout - waited)
                continue
            batch, rows = [], 0
            while tasks and (not batch or rows + tasks[0].rows <= self.params.max_batch_size):
                task = tasks.popleft()
                batch.append(task)
                rows += task.rows
            if tasks:
                self._queues.move_to_end(key)  # let other queues go next
            else:
                del self._queues[key]
            self._queued_rows -= rows
            return servable, signature, batch

    def _work(self):
        while True:
            with self._cond:
                taken = self._take_batch()
            if taken is None:
                return
            servable, signature, batch = taken
            try:
                timeout_ms = _batch_timeout_ms(batch)
                if len(batch) == 1:
                    outputs = [servable.call(signature, batch[0].inputs, timeout_ms)]
                else:
                    merged = {n: np.concatenate([t.inputs[n] for t in batch]) for n in batch[0].inputs}
                    result = servable.call(signature, merged, timeout_ms)
                    bounds = np.cumsum([t.rows for t in batch])[:-1]
                    split = {n: np.split(v, bounds) for n, v in result.items()}
                    outputs = [{n: parts[i] for n, parts in split.items()} for i in range(len(batch))]
                for task, out in zip(batch, outputs):
                    task.outputs = out
            except Exception as err:  # noqa: BLE001 - every waiting request gets the error
                for task in batch:
                    task.error = err
            finally:
                self.on_batch(len(batch), sum(t.rows for t in batch))
                for task in batch:
                    task.done.set()


def _batch_timeout_ms(batch):
    """The batch's run timeout, as TF Serving's BatchingSession sets it
    (`batching_session.cc`, `ProcessBatch`): the latest deadline of its tasks (none
    if a task has none); when every task's deadline passed in the queue, the batch
    fails with RESOURCE_EXHAUSTED without running."""
    if any(task.deadline is None for task in batch):
        return 0
    now = time.monotonic()
    latest = max(task.deadline for task in batch)
    if latest <= now:
        raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED, "Run() timeout exceeded while waiting in batching queue")
    return max(1, int((latest - now) * 1000))
