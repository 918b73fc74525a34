"""An HTTP/1.1 server with a bounded pool of request threads (`--rest_api_num_threads`).

TF Serving's REST server runs requests on a fixed pool of `--rest_api_num_threads`
threads (4 per CPU by default, server.h) over an event loop, so an idle keep-alive
connection costs no thread. The standard library's threading server gives every
connection a thread of its own for its whole life: 800 slow clients made 826
threads. Here one loop thread watches the listening socket and every idle
connection; a connection with a request waiting is handed to the pool, which answers
that one request and gives the connection back to the loop.

Shutdown is a bounded drain: the listening socket closes, idle connections close,
requests being answered finish (their answers say `Connection: close`), and after
`grace_seconds` whatever is left is closed.
"""

import concurrent.futures
import queue
import selectors
import socket
import socketserver
import threading
import time


class PooledHTTPServer(socketserver.TCPServer):
    allow_reuse_address = True
    request_queue_size = 256  # listen backlog: many clients connecting at once are not refused
    idle_timeout = 30.0  # an idle keep-alive connection is closed after this many seconds

    def __init__(self, address, handler_class, num_threads):
        super().__init__(address, handler_class)
        self.num_threads = num_threads
        self.draining = False
        self._pool = concurrent.futures.ThreadPoolExecutor(num_threads, thread_name_prefix="rest")
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._returned = queue.SimpleQueue()  # connections the pool gives back to the loop
        self._idle = {}  # socket -> _Connection waiting for its next request
        self._busy = set()  # connections whose request is being answered
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._loop_done = threading.Event()

    # --- the loop ------------------------------------------------------------
    def serve_forever(self, poll_interval=0.5):
        self._selector.register(self.socket, selectors.EVENT_READ, "listen")
        self._selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        try:
            while not self._stopped.is_set():
                for key, _ in self._selector.select(poll_interval):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        self._take_returned()
                    else:
                        self._dispatch(key.data)
                self._close_stale()
        finally:
            self._loop_done.set()

    def _accept(self):
        try:
            sock, address = self.socket.accept()
        except OSError:
            return
        connection = _Connection(self, sock, address)
        if connection.ready:
            self._watch(connection)

    def _watch(self, connection):
        connection.last_active = time.monotonic()
        self._idle[connection.sock] = connection
        self._selector.register(connection.sock, selectors.EVENT_READ, connection)

    def _dispatch(self, connection):
        self._selector.unregister(connection.sock)
        del self._idle[connection.sock]
        with self._lock:
            self._busy.add(connection)
        self._pool.submit(self._answer, connection)

    def _take_returned(self):
        try:
            self._wake_read.recv(4096)
        except OSError:
            pass
        while True:
            try:
                connection = self._returned.get_nowait()
            except queue.Empty:
                return
            if self.draining:
                connection.close()
            else:
                self._watch(connection)

    def _close_stale(self):
        now = time.monotonic()
        for connection in [c for c in self._idle.values() if now - c.last_active > self.idle_timeout]:
            self._selector.unregister(connection.sock)
            del self._idle[connection.sock]
            connection.close()

    # --- on a pool thread ---------------------------------------------------------
    def _answer(self, connection):
        """Answers the waiting request (and any the client pipelined behind it)."""
        try:
            keep = connection.answer()
            while keep and not self.draining and connection.has_buffered_request():
                keep = connection.answer()
        except Exception:  # noqa: BLE001 - a broken connection never takes the loop down
            keep = False
        with self._lock:
            self._busy.discard(connection)
        if keep and not self.draining:
            self._returned.put(connection)
            try:
                self._wake_write.send(b"x")
            except OSError:
                connection.close()
        else:
            connection.close()

    # --- shutdown ------------------------------------------------------------------
    def shutdown(self):
        """Stops taking connections and requests; the loop exits."""
        self.draining = True
        self._stopped.set()
        try:
            self._wake_write.send(b"x")
        except OSError:
            pass
        self._loop_done.wait(5)

    def server_close(self, grace_seconds=20.0):
        """Closes idle connections, lets requests being answered finish for up to
        `grace_seconds`, then closes everything. True when nothing was cut off."""
        self.draining = True
        super().server_close()
        for connection in list(self._idle.values()):
            connection.close()
        self._idle.clear()
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline:
            with self._lock:
                if not self._busy:
                    break
            time.sleep(0.02)
        with self._lock:
            left = list(self._busy)
        for connection in left:
            connection.close()
        self._finish_close()
        return not left

    def _finish_close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)
        while True:
            try:
                self._returned.get_nowait().close()
            except queue.Empty:
                break
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()


class _Connection:
    """One client connection and its handler object, kept across its requests."""

    def __init__(self, server, sock, address):
        self.sock = sock
        self.last_active = time.monotonic()
        handler = server.RequestHandlerClass.__new__(server.RequestHandlerClass)
        handler.request, handler.client_address, handler.server = sock, address, server
        self.handler = handler
        self.ready = False
        try:
            handler.setup()
            self.ready = True
        except OSError:
            self.close()

    def answer(self):
        """Answers one request; True when the connection stays open."""
        handler = self.handler
        handler.close_connection = True
        handler.handle_one_request()
        if not handler.close_connection:
            handler.wfile.flush()
        return not handler.close_connection

    def has_buffered_request(self):
        """Whether the client's next request is already read into the buffer (pipelining),
        where the loop's selector would never see it."""
        try:
            self.sock.setblocking(False)
            return bool(self.handler.rfile.peek(1))
        except (BlockingIOError, OSError, ValueError):
            return False
        finally:
            try:
                self.sock.settimeout(self.handler.timeout)
            except OSError:
                pass

    def close(self):
        try:
            if self.ready:
                self.handler.finish()
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
