"""The main job: train the NTM copy model (`small`), export it to
`saved_models/` (adding it to `saved_models/models.config`), serve that config with the local
TF-Serving-compatible server, and query it over REST and gRPC.

    python quickstart.py [--config smoke|small|paper] [--port 8500] [--rest_api_port 8501]
"""

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np

ROOT = os.path.dirname(os.path.abspath(__file__))
# The run adds its export to a config of its own (saved_models/ is generated, not tracked).
SERVING_CONFIG = os.path.join("saved_models", "models.config")


def show(label, matrix):
    print(f"{label} ({matrix.shape[0]} steps x {matrix.shape[1]} bits; '#' 1, '.' 0, blank: no target):")
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
    print("$ python " + " ".join(command[1:]), flush=True)
    server = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    deadline = time.time() + 180
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/v1/models/ntm_copy", timeout=1)
            return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    sys.exit("the server did not start within 180 s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="small", choices=("smoke", "small", "paper"))
    parser.add_argument("--port", type=int, default=8500, help="gRPC port of the local server")
    parser.add_argument("--rest_api_port", type=int, default=8501)
    args = parser.parse_args()
    os.chdir(ROOT)

    from train import ntm

    summary = ntm.main(
        ["--task", "copy", "--model", "ntm", "--config", args.config, "--serving_config", SERVING_CONFIG]
    )

    import tensorflow as tf

    from keras_l11.ntm.tasks import CopyTask
    from keras_l11.serving.client import Client

    inputs, targets = CopyTask().example(seed=12345, length=12)
    local = tf.saved_model.load(summary["export"]).signatures["serving_default"]
    want = local(sequence=tf.constant(inputs[None]))["probabilities"].numpy()[0]

    server = start_server(args.port, args.rest_api_port)
    try:
        with (
            Client(f"127.0.0.1:{args.rest_api_port}", "rest") as rest,
            Client(f"127.0.0.1:{args.port}", "grpc") as grpc_client,
        ):
            status = rest.status("ntm_copy")[0]
            print(f"\nGET /v1/models/ntm_copy: version {status['version']} {status['state']}")
            answers = {
                "REST": rest.predict("ntm_copy", {"sequence": inputs[None]})["probabilities"][0],
                "gRPC": grpc_client.predict("ntm_copy", {"sequence": inputs[None]})["probabilities"][0],
            }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)

    answer = targets >= 0
    show("\ninput", inputs)
    show("target", targets)
    for protocol, outputs in answers.items():
        errors = int(np.sum((outputs[answer] > 0.5) != (targets[answer] > 0.5)))
        same = "identical to" if np.array_equal(outputs, want) else "DIFFERENT from"
        show(f"output over {protocol}", np.where(answer, outputs, -1))
        print(f"   {errors} bit errors of {int(answer.sum())}; {same} the in-process SavedModel call")
    if not all(np.array_equal(o, want) for o in answers.values()):
        sys.exit("served outputs differ from the in-process call")


if __name__ == "__main__":
    main()
