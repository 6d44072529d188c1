#!/usr/bin/env python3
"""Launch mongoeco's in-memory MongoDB wire server for tests (no real mongod needed).

    python mongoeco_server.py --port 0      # 0 = pick a free port

Prints exactly one line, ``READY <port>``, on stdout once the listener accepts
connections; everything else goes to stderr.  Serves until SIGTERM/SIGINT or until
stdin reaches EOF (so a test process that dies, even by SIGKILL, takes the server
with it -- the parent must give it a *pipe* on stdin and keep the write end open;
use ``--ignore-stdin`` when starting it by hand with no stdin).

mongoeco is pinned (requirements.txt) because the patches below reach into its
private modules; re-check each one before changing the version.  The patches fix
wire-format deviations that stop the official Rust driver (mongodb 3.x):

  1. cursor ids are encoded as BSON Int32 (plain Python int); the driver
     deserializes ``cursor.id`` as i64 and rejects the reply -> send Int64.
  2. mongoeco decodes BSON Int64 into its own ``BsonInt64`` wrapper (not an int),
     so command options the driver sends as Int64 (``limit``, ``skip``,
     ``getMore`` cursor id, ...) fail its "must be an integer" checks (every
     ``find`` with a limit, including ``find_one``'s ``limit: 1, singleBatch:
     true``, failed).  It also ignores ``singleBatch`` and rejects the legacy
     negative limit -> unwrap those option values and apply singleBatch/negative
     limit the way mongod does.
  3. some error replies (``ok: 0`` or a ``writeErrors`` entry) lack ``code``; the
     driver requires it to parse the error and reports an opaque deserialization
     failure instead -> fill in code 8 (UnknownError).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading

from bson.int64 import Int64

import mongoeco
import mongoeco.wire.executor as wire_executor
import mongoeco.wire.proxy as wire_proxy
from mongoeco.core.bson_scalars import BsonInt64
from mongoeco.wire import AsyncMongoEcoProxyServer

TESTED_VERSION = "4.11.0"

# Top-level command options that are plain counts/ids, never user data.
_INT_OPTIONS = ("limit", "skip", "batchSize", "maxTimeMS", "maxAwaitTimeMS", "getMore")


def _unwrap(value):
    return value.value if isinstance(value, BsonInt64) else value


# --- patch 2: normalize incoming command options -------------------------------
_orig_build_request_context = wire_executor.build_request_context


def _build_request_context(body, **kwargs):
    for key in _INT_OPTIONS:
        if key in body:
            body[key] = _unwrap(body[key])
    cursor_spec = body.get("cursor")  # aggregate / listIndexes / listCollections
    if isinstance(cursor_spec, dict) and "batchSize" in cursor_spec:
        cursor_spec["batchSize"] = _unwrap(cursor_spec["batchSize"])
    if isinstance(body.get("cursors"), list):  # killCursors ids
        body["cursors"] = [_unwrap(c) for c in body["cursors"]]
    if next(iter(body), None) == "find":
        limit = body.get("limit")
        if isinstance(limit, int) and limit < 0:  # legacy "negative = single batch"
            body["limit"] = -limit
            body["singleBatch"] = True
        if body.pop("singleBatch", False) and body.get("batchSize"):
            # mongoeco has no singleBatch: cap at one batch and return no cursor.
            body["limit"] = min(body.get("limit") or body["batchSize"], body["batchSize"])
            del body["batchSize"]
        if body.get("limit") == 0:
            del body["limit"]  # limit 0 means "no limit" in MongoDB
    return _orig_build_request_context(body, **kwargs)


wire_executor.build_request_context = _build_request_context


# --- patches 1 and 3: fix every outgoing reply document -----------------------
def _fix_reply(doc):
    if not isinstance(doc, dict):
        return doc
    cursor = doc.get("cursor")
    if isinstance(cursor, dict) and isinstance(cursor.get("id"), int):
        cursor["id"] = Int64(cursor["id"])  # patch 1
    if doc.get("ok") in (0, 0.0, False) and doc.get("code") is None:  # patch 3
        doc["code"] = 8
        doc.setdefault("codeName", "UnknownError")
    for entry in doc.get("writeErrors") or ():  # patch 3, per-document errors
        if isinstance(entry, dict) and entry.get("code") is None:
            entry["code"] = 8
    return doc


_orig_encode_msg = wire_proxy.encode_op_msg_response
_orig_encode_reply = wire_proxy.encode_op_reply


def _encode_op_msg_response(document, **kwargs):
    return _orig_encode_msg(_fix_reply(document), **kwargs)


def _encode_op_reply(documents, **kwargs):
    return _orig_encode_reply([_fix_reply(d) for d in documents], **kwargs)


wire_proxy.encode_op_msg_response = _encode_op_msg_response
wire_proxy.encode_op_reply = _encode_op_reply


# --- optional: log each incoming command to stderr (debugging aid) ------------
def _enable_command_log():
    def logged(body, **kwargs):
        print(f"[mongoeco] {body!r}", file=sys.stderr, flush=True)
        return _build_request_context(body, **kwargs)

    wire_executor.build_request_context = logged


async def _serve(args) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not args.ignore_stdin:
        def watch_stdin() -> None:
            # os.read on the raw fd, not sys.stdin: a daemon thread blocked inside
            # the buffered reader aborts the interpreter at exit (it holds its lock).
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()

    server = AsyncMongoEcoProxyServer(host=args.host, port=args.port)  # MemoryEngine
    try:
        address = await server.start()
    except OSError as error:  # e.g. port in use: no READY line, exit status 1
        print(f"mongoeco_server: cannot listen on {args.host}:{args.port}: {error}",
              file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    try:
        print(f"READY {address.port}", flush=True)
        await stop.wait()
    finally:
        await server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port, 0 = any free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ignore-stdin", action="store_true",
                        help="do not exit when stdin closes (manual use)")
    parser.add_argument("--log-commands", action="store_true",
                        help="print every incoming command document to stderr")
    args = parser.parse_args()
    version = getattr(mongoeco, "__version__", None)
    if version != TESTED_VERSION:
        print(f"[mongoeco] warning: shim tested with {TESTED_VERSION}, found {version}",
              file=sys.stderr, flush=True)
    if args.log_commands:
        _enable_command_log()
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
