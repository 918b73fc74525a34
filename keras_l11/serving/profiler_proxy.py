"""TensorFlow's profiler service on the server's gRPC port (`--enable_profiler`), so
`tf.profiler.experimental.client.trace("host:8500", logdir, ms)` profiles the server as
it profiles TF Serving (server.cc registers `tsl::profiler::CreateProfilerService()`).

The `tensorflow` wheel exposes that service to Python only as a gRPC server of its own
(`tf.profiler.experimental.server.start(port)`), which listens on every network
interface (`*:port`) and does not ship its protos, so it cannot be registered on our
server. This starts it on a free port and forwards `/tensorflow.ProfilerService/*`
calls from the gRPC port to it, bytes as they are. Because that second port is open on
all interfaces, unauthenticated, for the life of the process, the flag is off by
default here (TF Serving's default is on).
"""

import logging
import socket

import grpc

log = logging.getLogger("serving")
SERVICE = "/tensorflow.ProfilerService/"


class ProfilerProxy(grpc.GenericRpcHandler):
    def __init__(self):
        from tensorflow.python.profiler import profiler_v2

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        profiler_v2.start_server(port)
        log.warning("profiler service enabled: TensorFlow's profiler server also listens on *:%d", port)
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")

    def service(self, handler_call_details):
        method = handler_call_details.method
        if not method.startswith(SERVICE):
            return None
        forward = self._channel.unary_unary(method)  # raw bytes both ways

        def handle(request, context):
            try:
                return forward(request, timeout=context.time_remaining())
            except grpc.RpcError as err:
                context.abort(err.code(), err.details() or "profiler call failed")

        return grpc.unary_unary_rpc_method_handler(handle)
