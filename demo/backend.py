#!/usr/bin/env python3
"""The demo's sample backend: answers every request with the JWT header it received.

Usage: backend.py PORT HEADER. Standard library only; listens on 127.0.0.1.
"""
import http.server
import json
import sys

port, header = int(sys.argv[1]), sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"path": self.path, header: self.headers.get_all(header) or []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
