"""Tiny real HTTP servers on free loopback ports, answering what the test tells them to."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# path -> (status, body); a callable gets the query string and returns the pair
Route = tuple[int, str] | Callable[[str], tuple[int, str]]


@contextmanager
def http_server(routes: dict[str, Route], host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `routes` on host:port (a free port by default); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            route = routes.get(url.path, (404, "not found\n"))
            status, body = route(url.query) if callable(route) else route
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
