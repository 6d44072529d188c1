#!/usr/bin/env python3
"""A stand-in for an OpenAI-compatible chat-completions API, for runs of the real server that need
an AI provider that always answers (the schema fuzzing in CI). Prints `READY <port>` once listening.

usage: fake_ai_provider.py [--port N]
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        if not self.path.endswith("/chat/completions"):
            self.send_error(404)
            return
        Handler.calls += 1
        body = json.dumps({
            "id": f"chatcmpl-{Handler.calls}",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Keep going, you are doing well."},
                         "finish_reason": "stop"}],
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
