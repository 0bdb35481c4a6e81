"""A TCP proxy in front of the embedded server's unix socket that injects network faults.

Faults that a real server cannot be asked for on demand, made real at the socket level:

- `cut_after_commits(n)`: forward the next n COMMITs, wait until the server answered each
  (so the transaction is committed), then cut both sides before the answer reaches the
  client: a lost commit acknowledgement;
- `black_hole()`: stop forwarding in both directions and keep every socket open, as a NAT
  or pooler that silently dropped the path; new connections are accepted and ignored;
- `refuse()`: close new and existing connections at once;
- `heal()`: forward normally again (a client that gave up on a black-holed connection has
  closed it by then; the proxy closes its side when it sees that).
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from pathlib import Path

COMMIT = b"Q" + struct.pack("!i", 4 + len(b"commit\x00")) + b"commit\x00"


class FaultProxy:
    def __init__(self, unix_socket: Path) -> None:
        self._upstream = str(unix_socket)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._mode = "pass"
        self._commits_to_cut = 0
        self.commits_cut = 0
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------- faults

    def cut_after_commits(self, count: int = 1) -> None:
        with self._lock:
            self._commits_to_cut = count

    def black_hole(self) -> None:
        with self._lock:
            self._mode = "black_hole"

    def refuse(self) -> None:
        with self._lock:
            self._mode = "refuse"
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def heal(self) -> None:
        with self._lock:
            self._mode = "pass"

    def close(self) -> None:
        self._stopped.set()
        _close(self._listener)
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    # ------------------------------------------------------------- plumbing

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                mode = self._mode
                self.connections += 1
            if mode == "refuse":
                _close(client)
                continue
            try:
                server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                server.connect(self._upstream)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        try:
            while not self._stopped.is_set():
                with self._lock:
                    mode = self._mode
                if mode == "black_hole":
                    self._stopped.wait(0.05)
                    continue
                readable, _, _ = select.select([client, server], [], [], 0.05)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is client and data == COMMIT and self._take_commit_cut():
                        server.sendall(data)
                        # Wait for the server's answer (the commit is done), then drop it.
                        select.select([server], [], [], 5.0)
                        return
                    peers[source].sendall(data)
        except OSError:
            return
        finally:
            _close(client)
            _close(server)

    def _take_commit_cut(self) -> bool:
        with self._lock:
            if self._commits_to_cut <= 0:
                return False
            self._commits_to_cut -= 1
            self.commits_cut += 1
            return True


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
