"""TF Serving's REST API (`/v1/models/...`) over HTTP/1.1, answered by a bounded
pool of threads (`keras_l11.serving.http_pool`)."""

import http.server
import json
import os
import re
import socket
import urllib.parse

import grpc

from keras_l11.serving import codec
from keras_l11.serving.errors import ServingError, failed_precondition, invalid
from keras_l11.serving.http_pool import PooledHTTPServer
from keras_l11.serving.protos import metadata_json, status_json

# TF Serving's routes (http_rest_api_util.h and .cc): every path under /v1/ goes to the API, any
# letter case; the raw path is matched, then the model name and label are URL-decoded.
_API_PATH = re.compile(r"/v1/.*", re.IGNORECASE)
_PREDICTION = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)", re.IGNORECASE
)
_STATUS = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?", re.IGNORECASE
)


class RestServer(PooledHTTPServer):
    def __init__(
        self,
        address,
        inference,
        timeout_ms=30_000,
        max_body_bytes=64 << 20,
        metrics_path=None,
        static=None,
        cors=False,
        num_threads=None,
    ):
        self.inference = inference
        self.static = static  # keras_l11.web.static.StaticFiles of the web demos, or None
        # The model call's deadline (http_rest_api_handler.cc sets RunOptions.timeout_in_ms): the run is
        # cancelled inside TensorFlow when it passes.
        self.timeout_ms = timeout_ms if timeout_ms and timeout_ms > 0 else 0
        self.max_body_bytes = max_body_bytes
        self.metrics_path = metrics_path
        self.cors = cors  # --rest_api_enable_cors_support
        # --rest_api_num_threads; TF Serving's default is 4 per CPU (server.h)
        super().__init__(address, _Handler, num_threads or 4 * (os.cpu_count() or 1))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keras_l11-serving"
    timeout = 5  # a client that stalls within a request for this long loses its connection
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
        if self.server.cors:  # http_rest_api_util.cc, AddCORSHeaders
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "POST, GET")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Content-Length", str(len(data)))
        if self.server.draining:  # shutting down: this is the connection's last answer
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err):
        self._send(err.http_status, {"error": err.message})

    def _read_body(self):
        """The request body: `Content-Length` bytes, or a chunked body; at most
        `--rest_api_max_body_bytes`. A body that ends early, or a length that is not
        a non-negative number, is a malformed request."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            length = int(length)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise invalid(f"Malformed request: bad Content-Length {self.headers.get('Content-Length')!r}")
        if length > self.server.max_body_bytes:
            self._drain(length)
            raise _TooLarge(self._too_large(length))
        return self._read_exactly(length)

    def _read_exactly(self, length):
        try:
            body = self.rfile.read(length)
        except OSError:  # the client stalled (socket timeout) or went away
            body = b""
        if len(body) != length:
            self.close_connection = True
            raise invalid(f"Malformed request: the body ended after {len(body)} of {length} bytes")
        return body

    def _read_chunked(self):
        body = bytearray()
        while True:
            line = self.rfile.readline(1 << 16)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise invalid("Malformed request: bad chunk size in a chunked body") from None
            if size == 0:
                while self.rfile.readline(1 << 16).strip():  # trailers, then the empty line
                    pass
                return bytes(body)
            if len(body) + size > self.server.max_body_bytes:
                self.close_connection = True
                raise _TooLarge(self._too_large(len(body) + size))
            body += self._read_exactly(size)
            self.rfile.readline(1 << 16)  # the CRLF after the chunk

    def _drain(self, length):
        remaining = length
        while 0 < remaining <= (256 << 20):  # read it away so the client reads the answer
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        self.close_connection = True

    def _too_large(self, length):
        return (
            f"Request body of {length} bytes exceeds the limit of {self.server.max_body_bytes} "
            "bytes (--rest_api_max_body_bytes)"
        )

    def _raw_path(self):
        return urllib.parse.urlsplit(self.path).path

    def _route(self):
        """`(name, version, label, verb, metadata)` of an API request, as TF Serving's
        `ParseModelInfo` reads it; anything else under /v1/ is a malformed request."""
        path = self._raw_path()
        malformed = invalid(f"Malformed request: {self.command} {path}")
        if self.command == "POST":
            m = _PREDICTION.fullmatch(path)
            if not m or m[4] not in ("predict", "classify", "regress"):  # the verb's case counts
                raise malformed
            name, version, label, verb, meta = m[1], m[2], m[3], m[4], None
        elif self.command == "GET":
            m = _STATUS.fullmatch(path)
            if not m:
                raise malformed
            name, version, label, verb, meta = m[1], m[2], m[3], None, m[4]
        else:
            raise malformed
        if not name:
            raise invalid("Missing model name in request.")
        name = urllib.parse.unquote(name)
        label = urllib.parse.unquote(label) if label is not None else None
        return name, int(version) if version is not None else None, label, verb, meta

    def _not_api(self):
        """A path outside /v1/: no handler, as TF Serving's HTTP server answers it."""
        self._send(404, {"error": f"Not found: {self.command} {self._raw_path()}"})

    # --- verbs --------------------------------------------------------------
    def do_OPTIONS(self):
        """A CORS preflight (http_server.cc, ProcessRequest): OK when it names an http(s) origin."""
        try:
            if self.headers.get("Content-Length"):
                self._read_body()
            if not re.search(r"https?://", self.headers.get("Origin", "")):
                raise failed_precondition("Origin header is missing in CORS preflight")
            self._send(200, b"", "application/json")
        except (ServingError, _TooLarge) as err:
            self._error(err if isinstance(err, ServingError) else invalid(str(err)))

    def do_GET(self):
        try:
            path = self._raw_path()
            decoded = urllib.parse.unquote(path)
            if self.server.metrics_path and path == self.server.metrics_path:
                text = self.server.inference.metrics.prometheus_text(self.server.inference.gauges())
                return self._send(200, text.encode(), "text/plain; version=0.0.4")
            if not _API_PATH.fullmatch(path):
                if self.server.static is not None and self.server.static.handles(decoded):
                    return self._send(200, *self.server.static.get(decoded))
                return self._not_api()
            name, version, label, _, meta = self._route()
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
            if not _API_PATH.fullmatch(self._raw_path()):
                return self._not_api()
            name, version, label, verb, _ = self._route()
            self._send(200, getattr(self, f"_{verb}")(name, version, label, _parse_json(body)))
        except _TooLarge as err:
            self._send(413, {"error": str(err)})
        except ServingError as err:
            self._error(err)
        except Exception as err:  # noqa: BLE001
            self._error(ServingError(grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}"))

    def _other_method(self):
        """PUT, DELETE, ...: a malformed API request (TF Serving's handler takes any method)."""
        try:
            self._read_body()
            if not _API_PATH.fullmatch(self._raw_path()):
                return self._not_api()
            self._route()
        except _TooLarge as err:
            self._send(413, {"error": str(err)})
        except ServingError as err:
            self._error(err)

    do_PUT = do_DELETE = do_PATCH = _other_method

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


def _parse_json(body):
    """The request body as JSON, with TF Serving's message when it is not (nesting too
    deep for the parser is a parse error too: its RecursionError)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise invalid(f"JSON Parse error: {err}") from None
