"""The local server's command line, read without loading TensorFlow (so
`python -m serving --help` answers at once); `main` parses, then starts the server."""

import argparse
import sys

from keras_l11.command_line import HelpFormatter

DESCRIPTION = """The local TF-Serving-compatible model server.

Serves SavedModels in TensorFlow Serving's layout over its REST and gRPC APIs, from
the same model config files and version folders as the real server, for
development, demos and tests on machines without `tensorflow_model_server`.
Flags, defaults and messages follow TF Serving's; the flags it lacks are marked
"(ours)". Both ports bind 127.0.0.1 unless --bind_address says otherwise.

    python -m serving --port=8500 --rest_api_port=8501 --model_config_file=saved_models/models.config
"""


def _bool(text):
    value = str(text).lower()
    if value not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value in ("true", "1")


def build_parser():
    p = argparse.ArgumentParser(prog="python -m serving", description=DESCRIPTION, formatter_class=HelpFormatter)
    flag = p.add_argument
    flag("--port", type=int, default=8500, help="gRPC port")
    flag("--rest_api_port", type=int, default=0, help="REST port (0: no REST API, as in TF Serving)")
    flag("--bind_address", default="127.0.0.1", help="(ours) address both ports bind to")
    flag("--rest_api_timeout_in_ms", type=int, default=30000, help="REST request deadline (<= 0: none)")
    flag("--rest_api_max_body_bytes", type=int, default=64 << 20, help="(ours) largest accepted REST body")
    flag("--grpc_max_threads", type=int, default=128, help="gRPC threads handling requests at once")
    flag("--model_config_file", default="", help="text-format ModelServerConfig; overrides --model_name")
    flag(
        "--model_config_file_poll_wait_seconds",
        type=int,
        default=0,
        help="re-read --model_config_file this often (0: never)",
    )
    flag("--model_name", default="default", help="name of the one model, without --model_config_file")
    flag("--model_base_path", default="", help="base path of the one model, without --model_config_file")
    flag(
        "--file_system_poll_wait_seconds",
        type=int,
        default=1,
        help="how often new or removed version folders are picked up (0: once, at start)",
    )
    flag("--enable_batching", type=_bool, nargs="?", const=True, default=False, help="dynamic batching")
    flag("--batching_parameters_file", default="", help="text-format BatchingParameters")
    flag("--monitoring_config_file", default="", help="text-format MonitoringConfig (Prometheus endpoint)")
    flag("--allow_version_labels_for_unavailable_models", type=_bool, nargs="?", const=True, default=False)
    flag(
        "--enable_model_warmup",
        type=_bool,
        nargs="?",
        const=True,
        default=True,
        help="replay a version's assets.extra/tf_serving_warmup_requests as it loads (a failing record fails the load)",
    )
    flag("--num_request_iterations_for_warmup", type=int, default=1, help="times each warmup record is replayed")
    flag("--tensorflow_intra_op_parallelism", type=int, default=0, help="threads within an op (0: TensorFlow picks)")
    flag("--tensorflow_inter_op_parallelism", type=int, default=0, help="ops run at once (0: TensorFlow picks)")
    flag("--load_retry_interval_micros", type=int, default=60_000_000, help="wait before retrying a failed load")
    flag("--max_num_load_retries", type=int, default=5)
    flag(
        "--rest_api_enable_cors_support",
        type=_bool,
        nargs="?",
        const=True,
        default=False,
        help="add Access-Control-Allow-Origin: * (and the allowed methods and headers) to REST answers",
    )
    flag(
        "--grpc_channel_arguments",
        default="",
        help="comma-separated gRPC server arguments, e.g. grpc.max_connection_age_ms=2000 (integers passed as such)",
    )
    flag(
        "--enable_grpc_healthcheck_service",
        type=_bool,
        nargs="?",
        const=True,
        default=False,
        help="the standard gRPC health service (grpc.health.v1.Health): ModelService and PredictionService SERVING",
    )
    flag("--version", action="store_true", help="print the server's and TensorFlow's versions and exit")
    flag("--web", action="store_true", help="(ours) serve the web demos at / on the REST port")
    flag("--web_root", default="", help="(ours) the web demos' folder (default: keras_l11/web/pages)")
    flag("--web_gallery", default="", help="(ours) a folder of images for the ranking page, served at /gallery/")
    return p


def main(argv=None):
    """`python -m serving`: parse the flags, then load TensorFlow and serve."""
    options = build_parser().parse_args(argv)
    if options.version:  # main.cc: --version, without loading anything
        from importlib import metadata

        print(f"TensorFlow ModelServer: keras_l11 {metadata.version('keras_l11')} (the local server)")
        print(f"TensorFlow Library: {metadata.version('tensorflow')}")
        return 0
    from keras_l11.serving.server import serve

    return serve(options)


if __name__ == "__main__":
    sys.exit(main())
