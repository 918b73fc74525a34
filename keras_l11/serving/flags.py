"""The local server's command line, read without loading TensorFlow (so
`python -m serving --help` answers at once); `main` parses, then starts the server."""

import argparse
import os
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


# TF Serving flags (main.cc) a production command line may carry that change nothing
# the local server does; they are accepted so the same command line starts both, and a
# set one is named in the start-up log.
ACCEPTED_WITHOUT_EFFECT = [
    ("num_load_threads", int, 0, "versions load one at a time"),
    ("num_unload_threads", int, 0, "versions unload one at a time"),
    ("flush_filesystem_caches", lambda t: _bool(t), True, "no file-system caches are kept"),
    ("tensorflow_session_parallelism", int, 0, "deprecated in TF Serving; use the intra/inter op flags"),
    ("platform_config_file", str, "", "the tensorflow platform is the only one served"),
    ("xla_cpu_compilation_enabled", lambda t: _bool(t), False, "the sessions run as TensorFlow sets them"),
    ("xla_gpu_compilation_enabled", lambda t: _bool(t), False, "the sessions run as TensorFlow sets them"),
    ("remove_unused_fields_from_bundle_metagraph", lambda t: _bool(t), True, "the MetaGraph is not kept"),
    ("skip_initialize_tpu", lambda t: _bool(t), False, "no TPU"),
    ("thread_pool_factory_config_file", str, "", "sessions use TensorFlow's own thread pools"),
    ("mixed_precision", str, "", "models run in the precision they were exported in"),
    ("num_tflite_interpreters_per_pool", int, 1, "one interpreter per pool, calls are not split"),
]


def build_parser():
    p = argparse.ArgumentParser(prog="python -m serving", description=DESCRIPTION, formatter_class=HelpFormatter)
    flag = p.add_argument

    def switch(name, default, help):
        """A true/false flag, as TF Serving's: `--name`, `--name=true`, `--name=false`."""
        flag(name, type=_bool, nargs="?", const=True, default=default, help=help)

    flag("--port", type=int, default=8500, help="gRPC port (0: none, with --grpc_socket_path)")
    flag("--grpc_socket_path", default="", help="also serve gRPC on this Unix domain socket (unix:PATH)")
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
    switch("--enable_batching", False, "dynamic batching")
    flag("--batching_parameters_file", default="", help="text-format BatchingParameters")
    switch(
        "--enable_per_model_batching_parameters",
        False,
        "with --enable_batching: batch a version only by its own batching_params.pbtxt (none: not batched)",
    )
    flag("--monitoring_config_file", default="", help="text-format MonitoringConfig (Prometheus endpoint)")
    switch("--allow_version_labels_for_unavailable_models", False, "labels may name versions that are not serving")
    switch(
        "--enable_model_warmup",
        True,
        "replay a version's assets.extra/tf_serving_warmup_requests as it loads (a failing record fails the load)",
    )
    flag("--num_request_iterations_for_warmup", type=int, default=1, help="times each warmup record is replayed")
    flag("--tensorflow_intra_op_parallelism", type=int, default=0, help="threads within an op (0: TensorFlow picks)")
    flag("--tensorflow_inter_op_parallelism", type=int, default=0, help="ops run at once (0: TensorFlow picks)")
    flag("--load_retry_interval_micros", type=int, default=60_000_000, help="wait before retrying a failed load")
    flag("--max_num_load_retries", type=int, default=5)
    switch(
        "--rest_api_enable_cors_support",
        False,
        "add Access-Control-Allow-Origin: * (and the allowed methods and headers) to REST answers",
    )
    flag(
        "--grpc_channel_arguments",
        default="",
        help="comma-separated gRPC server arguments, e.g. grpc.max_connection_age_ms=2000 (integers passed as such)",
    )
    switch(
        "--enable_grpc_healthcheck_service",
        False,
        "the standard gRPC health service (grpc.health.v1.Health): ModelService and PredictionService SERVING",
    )
    flag(
        "--rest_api_num_threads",
        type=int,
        default=0,
        help="threads answering REST requests (0: 4 per CPU); idle keep-alive connections hold none",
    )
    flag(
        "--ssl_config_file", default="", help="text-format SSLConfig: serve gRPC over TLS with its key and certificate"
    )
    switch("--use_alts_credentials", False, "serve gRPC with ALTS credentials (Google Cloud)")
    switch(
        "--enable_serialization_as_tensor_content",
        False,
        "gRPC Predict outputs in tensor_content instead of the typed value fields",
    )
    flag("--saved_model_tags", default="serve", help="comma-separated tags of the MetaGraph to load")
    switch(
        "--prefer_tflite_model",
        False,
        "serve a version's model.tflite (TFLite interpreter) instead of its SavedModel when it has one",
    )
    flag(
        "--num_tflite_pools",
        type=int,
        default=os.cpu_count() or 1,
        help="TFLite interpreters per version, each running one call at a time",
    )
    switch(
        "--enable_profiler",
        False,
        "TensorFlow's profiler service on the gRPC port (off here by default: it opens a port on every interface)",
    )
    switch(
        "--enable_signature_method_name_check",
        False,
        "refuse Classify/Regress on signatures whose method_name is not theirs (TF2 models write predict)",
    )
    flag("--tensorflow_session_config_file", default="", help="text-format tensorflow.ConfigProto for the sessions")
    flag(
        "--per_process_gpu_memory_fraction",
        type=float,
        default=0.0,
        help="fraction of each GPU's memory the sessions may take (0: grow as needed)",
    )
    flag(
        "--shutdown_grace_seconds",
        type=float,
        default=20.0,
        help="(ours) on SIGTERM, how long requests being answered may take to finish before the server exits",
    )
    for name, kind, default, why in ACCEPTED_WITHOUT_EFFECT:
        flag(f"--{name}", type=kind, default=default, help=f"accepted, no effect here: {why}")
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

    return serve(options, accepted_flag_notes(options))


def accepted_flag_notes(options):
    """One line for each flag of ACCEPTED_WITHOUT_EFFECT given a value other than its default."""
    return [
        f"--{name}={getattr(options, name)} is accepted and has no effect here: {why}"
        for name, _, default, why in ACCEPTED_WITHOUT_EFFECT
        if getattr(options, name) != default
    ]


if __name__ == "__main__":
    sys.exit(main())
