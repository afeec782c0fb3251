#!/usr/bin/python3
"""The real roompush stack for the JavaScript tests, driven over stdin/stdout.

The Node tests (client.test.mjs, demo.test.mjs) spawn this script; it starts sidecar, app and a
private nginx on a free port with tools/devstack.py (the same code ./dev up and the Python
integration tests use) and answers one JSON line per command line:

    -> (at start)                          <- {"ok":true,"url":..,"wsUrl":..,"controlSocket":..}
    {"cmd":"publish","room":R,"event":E,"data":D}   <- {"ok":true,"seq":N,"delivered":M}
    {"cmd":"stop-sidecar"} / {"cmd":"start-sidecar"} / {"cmd":"restart-sidecar"}  <- {"ok":true}
    {"cmd":"token","room":R,"ttl":"2s"}    <- {"ok":true,"token":T}   (with --auth)
    {"cmd":"stop"}                         <- {"ok":true,"exitCodes":{...}}, then it exits

When stdin closes (the test process died) the stack is stopped too: nothing is left running.
Usage: stack.py --build-dir BUILD [--auth]   (--auth: rooms need tokens, minted by "token")
"""

import argparse
import json
import os
import shutil
import base64
import signal
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools"))

import devstack  # noqa: E402


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def control(stack, request):
    """One request on the sidecar's control socket (docs/protocol.md)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(stack.control_socket)
        sock.sendall((json.dumps(request) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def handle(stack, command):
    name = command.get("cmd")
    if name == "publish":
        request = {"op": "publish", "room": command["room"], "event": command["event"],
                   "data": command.get("data")}
        if "id" in command:
            request["id"] = command["id"]
        return control(stack, request)
    if name == "token":
        minted = subprocess.run(
            [os.path.join(stack.build_dir, "cli", "pushctl"), "token", command["room"], "--ttl",
             command.get("ttl", "1h"), "--secret-file", stack.secret_file],
            capture_output=True, text=True, timeout=10)
        if minted.returncode != 0:
            return {"ok": False, "error": {"code": "token_failed", "message": minted.stderr}}
        return {"ok": True, "token": minted.stdout.strip()}
    if name == "stop-sidecar":
        code = stack.stop_process("sidecar")
        return {"ok": True, "exitCode": code}
    if name == "start-sidecar":
        stack.start_sidecar()
        return {"ok": True}
    if name == "restart-sidecar":
        code = stack.stop_process("sidecar")
        stack.start_sidecar()
        return {"ok": True, "exitCode": code}
    return {"ok": False, "error": {"code": "unknown_cmd", "message": "unknown command %r" % name}}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--max-upload", default="64m")
    parser.add_argument("--auth", action="store_true", help="rooms need tokens")
    args = parser.parse_args()
    # A SIGTERM from the test runner's timeout must still stop the stack.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    run_dir = tempfile.mkdtemp(prefix="rp-js-", dir="/tmp")
    # Open rooms, as ./dev up runs them: messages from browsers and presence (the demo's notes and
    # who is in the room); and permessage-deflate, which Chromium offers, so that every page test
    # runs through it (the notes it sends compressed, what it is sent compressed).
    sidecar_args = ["--client-publish", "--presence", "--ws-deflate"]
    secret_file = None
    if args.auth:
        secret_file = os.path.join(run_dir, "room.secret")
        with open(secret_file, "w") as out:
            out.write(base64.b64encode(os.urandom(48)).decode() + "\n")
        devstack.give_to_daemons(run_dir)
        devstack.give_to_daemons(secret_file)
        sidecar_args += ["--auth-secret-file", secret_file]
    stack = devstack.Stack(args.build_dir, run_dir, devstack.free_port(), max_upload=args.max_upload,
                           sidecar_args=sidecar_args)
    stack.secret_file = secret_file
    try:
        stack.start()
        reply({"ok": True, "url": stack.url, "wsUrl": stack.ws_url, "runDir": run_dir,
               "controlSocket": stack.control_socket, "spool": stack.spool_dir})
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            if command.get("cmd") == "stop":
                break
            try:
                reply(handle(stack, command))
            except (devstack.StackError, OSError, ValueError) as error:
                reply({"ok": False, "error": {"code": "stack_error", "message": str(error)}})
    except devstack.StackError as error:
        reply({"ok": False, "error": {"code": "stack_error", "message": str(error)}})
        return 1
    finally:
        stack.stop()
        logs = {name: stack.log_tail(name) for name in ("sidecar", "app", "nginx")}
        unclean = {name: code for name, code in stack.exit_codes.items() if code != 0}
        reply({"ok": not unclean, "exitCodes": stack.exit_codes, "logs": logs if unclean else {}})
        if os.environ.get("ROOMPUSH_KEEP_RUN_DIR"):
            sys.stderr.write("run dir kept: %s\n" % run_dir)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
