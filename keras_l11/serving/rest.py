"""TF Serving's REST API (`/v1/models/...`) over a threaded HTTP/1.1 server."""

import http.server
import json
import re
import socket
import socketserver
import urllib.parse

import grpc

from keras_l11.serving import codec
from keras_l11.serving.errors import ServingError, invalid, not_found
from keras_l11.serving.protos import metadata_json, status_json

_ROUTE = re.compile(
    r"^/v1/models(?:/(?P<name>[^/:]*))?"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?::(?P<verb>[A-Za-z]+)|/(?P<meta>metadata))?/?$"
)
_LABEL = re.compile(r"^[a-zA-Z0-9_]+$")


class RestServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = False  # server_close() waits for in-flight requests
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 256  # listen backlog: many clients connecting at once are not refused

    def __init__(self, address, inference, timeout_ms=30_000, max_body_bytes=64 << 20, metrics_path=None, static=None):
        self.inference = inference
        self.static = static  # keras_l11.web.static.StaticFiles of the web demos, or None
        # The model call's deadline (http_rest_api_handler.cc sets RunOptions.timeout_in_ms): the run is
        # cancelled inside TensorFlow when it passes.
        self.timeout_ms = timeout_ms if timeout_ms and timeout_ms > 0 else 0
        self.max_body_bytes = max_body_bytes
        self.metrics_path = metrics_path
        super().__init__(address, _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keras_l11-serving"
    timeout = 5  # idle keep-alive connections close, so shutdown never waits on them
    # Headers and body leave in one segment, and without Nagle's delay: otherwise
    # the client's delayed ACK stalls every keep-alive response by ~40 ms.
    wbufsize = 1 << 16

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):  # requests are counted in the metrics, not logged
        pass

    # --- plumbing ---------------------------------------------------------
    def _send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err):
        self._send(err.http_status, {"error": err.message})

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            raise invalid("Malformed request: a Content-Length header is required")
        try:
            length = int(length)
        except ValueError:
            raise invalid("Malformed request: bad Content-Length") from None
        if length > self.server.max_body_bytes:
            remaining = length
            while remaining > 0 and remaining <= (256 << 20):  # drain so the client reads the answer
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            self.close_connection = True
            raise _TooLarge(
                f"Request body of {length} bytes exceeds the limit of {self.server.max_body_bytes} "
                "bytes (--rest_api_max_body_bytes)"
            )
        return self.rfile.read(length)

    def _route(self):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        m = _ROUTE.match(path)
        if not m:
            raise not_found(f"Malformed request: {self.command} {self.path}")
        name, version, label = m["name"], m["version"], m["label"]
        if not name:
            raise invalid("Missing model name in request.")
        if version is not None:
            if not version.isdigit():
                raise invalid(f"Malformed request: version '{version}' is not a number")
            version = int(version)
        if label is not None and not _LABEL.match(label):
            raise invalid(f"Malformed request: label '{label}' must match [a-zA-Z0-9_]+")
        return name, version, label, m["verb"], m["meta"]

    # --- verbs --------------------------------------------------------------
    def do_GET(self):
        try:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if self.server.static is not None and self.server.static.handles(path) and path != self.server.metrics_path:
                return self._send(200, *self.server.static.get(path))
            if self.server.metrics_path and urllib.parse.urlsplit(self.path).path == self.server.metrics_path:
                text = self.server.inference.metrics.prometheus_text(self.server.inference.gauges())
                return self._send(200, text.encode(), "text/plain; version=0.0.4")
            name, version, label, verb, meta = self._route()
            if verb:
                raise invalid(f"Malformed request: {verb} needs POST")
            if meta:
                servable, defs = self.server.inference.metadata(name, version, label)
                return self._send(200, metadata_json(name, servable.version, defs))
            return self._send(200, status_json(self.server.inference.status(name, version, label)))
        except ServingError as err:
            self._error(err)
        except Exception as err:  # noqa: BLE001 - a bug answers 500, the server keeps serving
            self._error(ServingError(grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}"))

    def do_POST(self):
        try:
            body = self._read_body()
            name, version, label, verb, meta = self._route()
            if meta or verb not in ("predict", "classify", "regress"):
                raise invalid(f"Malformed request: POST {self.path} (expected :predict, :classify or :regress)")
            try:
                request = json.loads(body)
            except (ValueError, UnicodeDecodeError) as err:
                raise invalid(f"JSON Parse error: {err}") from None
            self._send(200, getattr(self, f"_{verb}")(name, version, label, request))
        except _TooLarge as err:
            self._send(413, {"error": str(err)})
        except ServingError as err:
            self._error(err)
        except Exception as err:  # noqa: BLE001
            self._error(ServingError(grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}"))

    def _predict(self, name, version, label, request):
        if not isinstance(request, dict):
            raise invalid("Malformed request: the body must be a JSON object")
        signature_name = request.get("signature_name")
        if signature_name is not None and not isinstance(signature_name, str):
            raise invalid("Malformed request: 'signature_name' must be a string")
        row_format = []

        def decode(signature):
            inputs, rows = codec.parse_predict_body(request, signature.inputs)
            row_format.append(rows)
            return inputs

        _, _, outputs = self.server.inference.predict(
            name, version, label, signature_name, decode, timeout_ms=self.server.timeout_ms
        )
        return codec.predict_response(outputs, row_format[0])

    def _examples(self, request):
        signature_name = request.get("signature_name") if isinstance(request, dict) else None
        return signature_name, codec.examples_from_json(request)

    def _classify(self, name, version, label, request):
        signature_name, examples = self._examples(request)
        _, _, results = self.server.inference.classify(
            name, version, label, signature_name, examples, timeout_ms=self.server.timeout_ms
        )
        return {"results": [[[c, s] for c, s in row] for row in results]}

    def _regress(self, name, version, label, request):
        signature_name, examples = self._examples(request)
        _, _, results = self.server.inference.regress(
            name, version, label, signature_name, examples, timeout_ms=self.server.timeout_ms
        )
        return {"results": results}


class _TooLarge(Exception):
    pass
