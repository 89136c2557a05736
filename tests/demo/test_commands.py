"""Local-mode commands answer a mistake with one sentence, not a traceback."""

import socket

from demo.__main__ import main


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_fire_schedule_without_a_running_cloud_says_how_to_start_one(capsys):
    port = _free_port()
    assert main(["fire-schedule", "scoreline-scoring", "--port", str(port)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"local mode: no local cloud answers on port {port} (")
    assert error.rstrip().endswith("start one with `make serve`")
    assert "Traceback" not in error


def test_a_server_error_page_is_one_sentence(capsys):
    """A server answering with an HTML error page (an internal error) gives one line, not a traceback."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Failing(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"<!doctype html>\n<title>500 Internal Server Error</title>\n<p>Traceback ...</p>\n")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert main(["fire-schedule", "scoreline-scoring", "--port", str(server.server_port)]) == 1
    finally:
        server.shutdown()
    port = server.server_port
    expected = f"local mode: the local cloud on port {port} answered HTTP 500 Internal Server Error\n"
    assert capsys.readouterr().err == expected
