"""The main job: train a Neural Turing Machine to copy sequences of bit vectors
(the `small` config), export it to `saved_models/` (adding it to
`saved_models/models.config`), serve that config with the local TF-Serving-compatible
server, ask it to copy a sequence over REST and over gRPC, and stop the server.

    python quickstart.py                   # about 4 minutes of training on 2 CPU cores
    python quickstart.py --config smoke    # seconds: a model that copies only short sequences
"""

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.abspath(__file__))
# The run adds its export to a config of its own (saved_models/ is generated, not tracked).
SERVING_CONFIG = os.path.join("saved_models", "models.config")
SERVER_LOG = os.path.join("runs", "quickstart", "server.log")


def step(number, text):
    print(f"\n[{number}/4] {text}", flush=True)


def show(label, matrix):
    print(f"{label} ({matrix.shape[0]} time steps x {matrix.shape[1]} bits; '#' 1, '.' 0, blank: not scored):")
    for row in matrix.T:
        print("   " + "".join(" " if v < 0 else "#" if v > 0.5 else "." for v in row))


def start_server(port, rest_port):
    command = [
        sys.executable,
        "-m",
        "serving",
        f"--port={port}",
        f"--rest_api_port={rest_port}",
        f"--model_config_file={SERVING_CONFIG}",
        "--monitoring_config_file=serving/monitoring.config",
    ]
    print("$ python " + " ".join(command[1:]))
    os.makedirs(os.path.dirname(SERVER_LOG), exist_ok=True)
    with open(SERVER_LOG, "w") as log:
        server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"error: the server exited with status {server.returncode}; its log: {SERVER_LOG}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/v1/models/ntm_copy", timeout=1)
            print(f"serving on 127.0.0.1: gRPC port {port}, REST port {rest_port} (log: {SERVER_LOG})")
            return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    sys.exit(f"error: the server did not answer within 180 s; its log: {SERVER_LOG}")


def stop_server(server):
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()


def main():
    parser = argparse.ArgumentParser(
        prog="python quickstart.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="small", choices=("smoke", "small", "paper"), help="default: small")
    parser.add_argument("--port", type=int, default=8500, help="gRPC port of the local server (default: 8500)")
    parser.add_argument("--rest_api_port", type=int, default=8501, help="REST port (default: 8501)")
    args = parser.parse_args()
    os.chdir(ROOT)

    step(1, f"Training the NTM on the copy task (config {args.config}; the table at the end is its test)")
    from train import ntm

    summary = ntm.main(
        ["--task", "copy", "--model", "ntm", "--config", args.config, "--serving_config", SERVING_CONFIG]
    )

    import numpy as np
    import tensorflow as tf

    from keras_l11.ntm.tasks import CopyTask
    from keras_l11.serving.client import Client

    step(2, f"Calling the exported SavedModel in this process ({summary['export']})")
    inputs, targets = CopyTask().example(seed=12345, length=12)
    local = tf.saved_model.load(summary["export"]).signatures["serving_default"]
    want = local(sequence=tf.constant(inputs[None]))["probabilities"].numpy()[0]
    print("done: these outputs are what the server must return")

    step(3, "Starting the local TF-Serving-compatible server on saved_models/models.config")
    server = start_server(args.port, args.rest_api_port)
    try:
        step(4, "Asking the server to copy a sequence of 12 random 8-bit vectors")
        with (
            Client(f"127.0.0.1:{args.rest_api_port}", "rest") as rest,
            Client(f"127.0.0.1:{args.port}", "grpc") as grpc_client,
        ):
            status = rest.status("ntm_copy")[0]
            print(f"GET /v1/models/ntm_copy: version {status['version']} {status['state']}")
            answers = {
                "REST": rest.predict("ntm_copy", {"sequence": inputs[None]})["probabilities"][0],
                "gRPC": grpc_client.predict("ntm_copy", {"sequence": inputs[None]})["probabilities"][0],
            }
        answer = targets >= 0
        show("\ninput: the sequence, a delimiter bit, then blanks while the model answers", inputs)
        show("target: the same sequence, to be written after the delimiter", targets)
        for protocol, outputs in answers.items():
            errors = int(np.sum((outputs[answer] > 0.5) != (targets[answer] > 0.5)))
            same = "identical to" if np.array_equal(outputs, want) else "DIFFERENT from"
            show(f"answer over {protocol}", np.where(answer, outputs, -1))
            print(f"   {errors} wrong bits of {int(answer.sum())}; {same} the in-process SavedModel call")
    finally:
        stop_server(server)
    print(f"\nStopped the server. The model is in {os.path.dirname(summary['export'])}/; to serve it again:")
    ports = f"--port={args.port} --rest_api_port={args.rest_api_port}"
    print(f"  python -m serving {ports} --model_config_file={SERVING_CONFIG}")
    if not all(np.array_equal(o, want) for o in answers.values()):
        sys.exit("error: the served outputs differ from the in-process call")


if __name__ == "__main__":
    main()
