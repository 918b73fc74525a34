"""The local TF-Serving-compatible model server: `python -m serving`.

For development, demos and tests on machines without `tensorflow_model_server`
(see the docs' serving page); production runs the real TF Serving on the same config and
`saved_models/` folders. Flags, defaults and messages follow TF Serving's;
the ones it lacks (`--bind_address`, `--rest_api_max_body_bytes`, `--web...`) are
marked as ours. Both ports bind 127.0.0.1 unless
`--bind_address` says otherwise.
"""

import concurrent.futures
import logging
import os
import signal
import sys
import threading
import time

import grpc
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from keras_l11 import command_line
from keras_l11.serving import example_signatures
from keras_l11.serving.batching import Batcher, BatchingParameters
from keras_l11.serving.core import Inference
from keras_l11.serving.errors import ServingError, invalid
from keras_l11.serving.grpc_service import add_services
from keras_l11.serving.grpc_setup import INT32_MAX, add_health_service, grpc_channel_arguments, grpc_credentials
from keras_l11.serving.manager import ModelManager
from keras_l11.serving.monitoring import Metrics
from keras_l11.serving.rest import RestServer

log = logging.getLogger("serving")


def read_model_config(path):
    """Parses a model config file, with TF Serving's message on failure."""
    config = model_server_config_pb2.ModelServerConfig()
    with open(path) as f:
        text = f.read()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as err:
        raise invalid(f"Error parsing text-format tensorflow.serving.ModelServerConfig: {err}") from None
    return config, text


def single_model_config(name, base_path):
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.add(name=name, base_path=base_path, model_platform="tensorflow")
    return config


class ModelServer:
    def _static_files(self):
        if not self.options.web:
            return None
        from keras_l11.web.static import DEFAULT_ROOT, StaticFiles

        return StaticFiles(self.options.web_root or DEFAULT_ROOT, self.options.web_gallery or None)

    def __init__(self, config, options):
        self.options = options
        if not options.port and not options.grpc_socket_path:  # server.cc, BuildAndStart
            raise invalid("At least one of server_options.grpc_port or server_options.grpc_socket_path must be set.")
        if options.use_alts_credentials and options.ssl_config_file:
            raise invalid("Either use_alts_credentials must be false or ssl_config_file must be empty.")
        self._credentials = grpc_credentials(options)  # a bad SSL config stops start-up here
        example_signatures.Options.check_method_names = options.enable_signature_method_name_check
        self.batcher = None
        metrics = Metrics()
        if options.batching_parameters_file and not options.enable_batching:  # server.cc, BuildAndStart
            raise invalid(
                "server_options.batching_parameters_file is set without setting server_options.enable_batching to true."
            )
        batching_for = None
        if options.enable_batching:
            params = BatchingParameters()
            if options.batching_parameters_file:
                with open(options.batching_parameters_file) as f:
                    params = BatchingParameters.from_text(f.read())
            self.batcher = Batcher(params, on_batch=metrics.record_batch)
            batching_for = per_model_batching if options.enable_per_model_batching_parameters else lambda path: params
        self.manager = ModelManager(
            config,
            poll_seconds=options.file_system_poll_wait_seconds,
            load_retry_seconds=options.load_retry_interval_micros / 1e6,
            max_load_retries=options.max_num_load_retries,
            allow_labels_for_unavailable=options.allow_version_labels_for_unavailable_models,
            warmup_iterations=max(options.num_request_iterations_for_warmup, 1) if options.enable_model_warmup else 0,
            session_config=_session_config(options),
            batching_for=batching_for,
            tags=[t.strip() for t in options.saved_model_tags.split(",") if t.strip()],
            prefer_tflite=options.prefer_tflite_model,
            tflite_interpreters=options.num_tflite_pools,
        )
        self.inference = Inference(self.manager, self.batcher, metrics)
        self.metrics_path = _monitoring_path(options.monitoring_config_file)
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self.grpc_server = None
        self.rest_server = None
        self._threads = []
        self._config_text = None

    def start(self):
        self.manager.start()
        address = self.options.bind_address
        self.grpc_server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(max_workers=self.options.grpc_max_threads),
            options=[
                # server.cc: SetMaxMessageSize(INT32_MAX), both ways
                ("grpc.max_receive_message_length", INT32_MAX),
                ("grpc.max_send_message_length", INT32_MAX),
                ("grpc.so_reuseport", 0),
                *grpc_channel_arguments(self.options.grpc_channel_arguments),
            ],
        )
        add_services(
            self.grpc_server,
            self.inference,
            self.reload_config,
            as_tensor_content=self.options.enable_serialization_as_tensor_content,
        )
        if self.options.enable_profiler:
            from keras_l11.serving.profiler_proxy import ProfilerProxy

            self.grpc_server.add_generic_rpc_handlers((ProfilerProxy(),))
        if self.options.enable_grpc_healthcheck_service:
            add_health_service(self.grpc_server)
        if self.options.port:
            self._listen(f"{address}:{self.options.port}")
        if self.options.grpc_socket_path:  # server.cc: the same services on "unix:<path>" too
            socket_path = os.path.abspath(self.options.grpc_socket_path)
            if os.path.exists(socket_path):
                os.unlink(socket_path)  # a previous server's socket file
            self._listen(f"unix:{socket_path}")
        self.grpc_server.start()
        if self.options.rest_api_port:
            self.rest_server = RestServer(
                (address, self.options.rest_api_port),
                self.inference,
                timeout_ms=self.options.rest_api_timeout_in_ms,
                max_body_bytes=self.options.rest_api_max_body_bytes,
                metrics_path=self.metrics_path,
                static=self._static_files(),
                cors=self.options.rest_api_enable_cors_support,
                num_threads=self.options.rest_api_num_threads,
            )
            self._spawn(self.rest_server.serve_forever, "rest")
        if self.options.model_config_file and self.options.model_config_file_poll_wait_seconds > 0:
            self._spawn(self._poll_config_file, "config-poller")
        print(
            f"Serving {sorted(self.manager.models)}: gRPC at "
            + " and ".join(
                ([f"{address}:{self.options.port}"] if self.options.port else [])
                + ([f"unix:{self.options.grpc_socket_path}"] if self.options.grpc_socket_path else [])
            )
            + (f", REST at http://{address}:{self.options.rest_api_port}" if self.rest_server else ""),
            flush=True,
        )

    def _listen(self, target):
        credentials = self._credentials
        bound = (
            self.grpc_server.add_secure_port(target, credentials)
            if credentials is not None
            else self.grpc_server.add_insecure_port(target)
        )
        if bound == 0:
            raise OSError(f"cannot bind gRPC to {target}")

    def _spawn(self, target, name):
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def reload_config(self, config):
        """Applies a new config atomically; raises (and keeps the old one) if it is bad."""
        with self._reload_lock:
            self.manager.reload(config)
        log.info("reloaded config: models %s", sorted(self.manager.models))

    def _poll_config_file(self):
        """Re-reads the config file every poll; a text that failed to apply is tried
        again at each poll (its model folder may appear), as TF Serving's
        `PollFilesystemAndReloadConfig` reloads at every poll; each failure is
        printed once."""
        path = self.options.model_config_file
        with open(path) as f:
            applied = f.read()
        reported = None
        while not self._stop.wait(self.options.model_config_file_poll_wait_seconds):
            try:
                config, text = read_model_config(path)
                if text == applied:
                    continue
                self.reload_config(config)
                applied, reported = text, None
                print(f"Reloaded {path}: serving {sorted(self.manager.models)}", flush=True)
            except (ServingError, OSError) as err:
                message = getattr(err, "message", str(err))
                if reported != message:
                    reported = message
                    print(
                        f"Config reload from {path} failed; the previous config keeps serving (tried again "
                        f"every {self.options.model_config_file_poll_wait_seconds} s): {message}",
                        file=sys.stderr,
                        flush=True,
                    )

    def stop(self, grace_seconds=None):
        """A bounded drain: both ports stop taking requests (idle keep-alive connections
        close), requests being answered finish for up to `grace_seconds`
        (`--shutdown_grace_seconds`), then the rest is cut off."""
        grace_seconds = self.options.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        self._stop.set()
        started = time.monotonic()
        waits = []
        drained = True
        if self.grpc_server is not None:
            waits.append(self.grpc_server.stop(grace_seconds))
        if self.rest_server is not None:
            self.rest_server.shutdown()
            drained = self.rest_server.server_close(grace_seconds)
        for event in waits:
            drained = event.wait(max(0.0, grace_seconds - (time.monotonic() - started)) + 1) and drained
        if self.batcher is not None:
            self.batcher.close()
        self.manager.stop()
        return drained


PER_MODEL_BATCHING_FILE = "batching_params.pbtxt"


def per_model_batching(path):
    """`--enable_per_model_batching_parameters` (bundle_factory_util.cc,
    `GetPerModelBatchingParams`): a version is batched with its own
    `batching_params.pbtxt` when it has one, and not batched otherwise; a file that
    does not parse fails the load."""
    file = os.path.join(path, PER_MODEL_BATCHING_FILE)
    if not os.path.exists(file):
        return None
    with open(file) as f:
        return BatchingParameters.from_text(f.read())


def _session_config(options):
    """The sessions' ConfigProto as server.cc builds it: --tensorflow_session_config_file,
    then the thread flags and --per_process_gpu_memory_fraction on top."""
    import tensorflow as tf

    config = tf.compat.v1.ConfigProto()
    if options.tensorflow_session_config_file:
        with open(options.tensorflow_session_config_file) as f:
            try:
                text_format.Parse(f.read(), config)
            except text_format.ParseError as err:
                raise invalid(f"Error parsing text-format tensorflow.ConfigProto: {err}") from None
    if options.tensorflow_intra_op_parallelism:
        config.intra_op_parallelism_threads = options.tensorflow_intra_op_parallelism
    if options.tensorflow_inter_op_parallelism:
        config.inter_op_parallelism_threads = options.tensorflow_inter_op_parallelism
    if options.per_process_gpu_memory_fraction:
        config.gpu_options.per_process_gpu_memory_fraction = options.per_process_gpu_memory_fraction
    return config


def _monitoring_path(path):
    if not path:
        return None
    from keras_l11.serving.textproto import MONITORING_SCHEMA, parse

    with open(path) as f:
        config = parse(f.read(), MONITORING_SCHEMA).get("prometheus_config", {})
    if not config.get("enable"):
        return None
    return config.get("path") or "/monitoring/prometheus/metrics"


def serve(options, notes=()):
    """Runs the server with parsed `options` (`keras_l11.serving.flags`) until SIGTERM or
    SIGINT; `notes` are logged at start."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if options.model_config_file:
            config, _ = read_model_config(options.model_config_file)
        elif options.model_base_path:
            config = single_model_config(options.model_name, options.model_base_path)
        else:
            raise invalid("Both server_options.model_base_path and server_options.model_config_file are empty!")
        for note in notes:  # the flags that were accepted and have no effect here
            log.info("%s", note)
        server = ModelServer(config, options)
    except (ServingError, OSError, ValueError) as err:
        print(getattr(err, "message", str(err)), file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server.start()
    except (ServingError, OSError) as err:
        print(getattr(err, "message", str(err)), file=sys.stderr)
        return 1
    accelerators = command_line.accelerator_line()
    if accelerators:
        log.info(accelerators)
    while not stop.wait(0.5):
        pass
    print(f"Shutting down: finishing in-flight requests (at most {options.shutdown_grace_seconds:g} s)", flush=True)
    started = time.monotonic()
    drained = server.stop()
    print(f"Server stopped ({time.monotonic() - started:.2f} s to finish)", flush=True)
    if not drained:
        # A request outlived the grace period; its thread would hold the interpreter's exit.
        print("Requests still running after the grace period were cut off", file=sys.stderr, flush=True)
        os._exit(0)
    return 0
