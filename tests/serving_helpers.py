"""Starting model servers (ours, or a real tensorflow_model_server) for tests."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

from conftest import ROOT, free_ports


def real_tf_serving():
    return shutil.which("tensorflow_model_server")


class RunningServer:
    def __init__(self, proc, grpc_port, rest_port, log_path):
        self.proc = proc
        self.grpc_port = grpc_port
        self.rest_port = rest_port
        self.log_path = log_path
        self.grpc = f"127.0.0.1:{grpc_port}"
        self.rest = f"127.0.0.1:{rest_port}"
        self.url = f"http://127.0.0.1:{rest_port}"

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


SERVERS = ["local", "tensorflow_model_server"]  # what tests that TF Serving's binary must pass run against


def binary_for(kind):
    """None for our server; the real binary's path, or a skip when it is not installed."""
    if kind == "local":
        return None
    binary = real_tf_serving()
    if not binary:
        pytest.skip("tensorflow_model_server is not on PATH")
    return binary


def start_server(args, tmp_path, binary=None, wait=True, timeout=120, cwd=ROOT):
    """Starts `python -m serving` (or `binary`) with `args` plus free ports."""
    grpc_port, rest_port = free_ports(2)
    log_path = str(tmp_path / f"server-{grpc_port}.log")
    command = [binary] if binary else [sys.executable, "-m", "serving"]
    command += [f"--port={grpc_port}", f"--rest_api_port={rest_port}", *args]
    env = dict(os.environ, PYTHONPATH=ROOT)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer(proc, grpc_port, rest_port, log_path)
    if wait:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}:\n{server.log()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{server.url}/v1/models/_ready_probe_", timeout=1):
                    break
            except urllib.error.HTTPError:
                break  # the REST port answers (404 for the probe): start-up is complete
            except OSError:
                if time.time() > deadline:
                    server.stop(signal.SIGKILL)
                    raise AssertionError(f"server did not answer in {timeout} s:\n{server.log()[-3000:]}") from None
                time.sleep(0.2)
    return server


def http(method, url, body=None, raw=None, timeout=30):
    """`(status, parsed JSON body)` for one REST call; never raises on HTTP errors."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        text = err.read()
        try:
            return err.code, json.loads(text)
        except ValueError:
            return err.code, {"raw": text.decode("utf-8", "replace")}


def png(image):
    """A uint8 image `[H, W, 3]` as PNG bytes, as a client would send it."""
    from keras_l11.ops.images import encode_png

    return encode_png(image)


def wait_for(condition, timeout=30, message="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def config_text(*models):
    """models: (name, base_path[, extra text])."""
    entries = "".join(
        f'  config {{ name: "{m[0]}" base_path: "{m[1]}" model_platform: "tensorflow" {m[2] if len(m) > 2 else ""} }}\n'
        for m in models
    )
    return "model_config_list {\n" + entries + "}\n"


def y_of(client, model, x=1.0):
    return float(client.predict(model, {"x": np.array([x], np.float32)})["y"][0])


def reload(server, text):
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(text, config)
    with grpc.insecure_channel(server.grpc) as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        return stub.HandleReloadConfigRequest(model_management_pb2.ReloadConfigRequest(config=config), timeout=60)
