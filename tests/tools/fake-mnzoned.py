#!/usr/bin/env python3
"""fake-mnzoned SOCKET OP=REPLY...: a stand-in for mnzoned that answers each request
with the reply given for its op (fields separated by ';', as "rc=0;state=4"), or hangs
up when the reply is "close". For the tests of what the module does with replies that
mnzoned never sends. Serves until killed. Not installed."""
import os
import socket
import struct
import sys


def serve(path, replies):
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(16)
    while True:
        conn, _ = listener.accept()
        with conn:
            head = conn.recv(4, socket.MSG_WAITALL)
            if len(head) != 4:
                continue
            (size,) = struct.unpack("=I", head)
            body = conn.recv(size, socket.MSG_WAITALL)
            fields = dict(f.split("=", 1) for f in body.decode().split("\0") if "=" in f)
            reply = replies.get(fields.get("op", ""), "close")
            if reply == "close":
                continue
            out = b"".join(f.encode() + b"\0" for f in reply.split(";"))
            conn.sendall(struct.pack("=I", len(out)) + out)


if __name__ == "__main__":
    serve(sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:]))
