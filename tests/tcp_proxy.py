"""A TCP proxy to play an outage of the server behind it (PostgreSQL, Redis) without touching the
server, which other tests share.

Run as `python tcp_proxy.py HOST PORT`: it forwards a port of 127.0.0.1 to HOST:PORT, prints that
port, then obeys one command a line on stdin, answering "ok" to each: `down` cuts every connection
and stops listening (a new connection is refused, as by a stopped server), `up` listens on the same
port again. `TcpProxy` runs and steers it from a test.
"""
import socket
import subprocess
import sys
import threading


class Proxy:
    def __init__(self, target):
        self.target = target
        self.lock = threading.Lock()
        self.connections = set()
        self.listener = None
        self.port = 0
        self.up()

    def up(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(256)
        self.listener, self.port = listener, listener.getsockname()[1]
        threading.Thread(target=self.accept, args=(listener,), daemon=True).start()

    def down(self):
        with self.lock:
            listener, self.listener = self.listener, None
            connections, self.connections = self.connections, set()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        listener.close()
        for sock in connections:
            cut(sock)

    def accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # down
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                cut(client)
                continue
            server.settimeout(None)
            with self.lock:
                if self.listener is not listener:  # went down meanwhile
                    cut(client)
                    cut(server)
                    return
                self.connections |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self.pipe, args=(source, sink), daemon=True).start()

    def pipe(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with self.lock:
                self.connections.discard(sock)
            cut(sock)


def cut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class TcpProxy:
    """This file as a process in front of `host:port`; `port` is where to connect instead."""

    def __init__(self, host, port):
        self.process = subprocess.Popen([sys.executable, __file__, host, str(port)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())

    def down(self):
        self._command("down")

    def up(self):
        self._command("up")

    def _command(self, word):
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "ok"

    def stop(self):
        self.process.kill()
        self.process.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def main():
    proxy = Proxy((sys.argv[1], int(sys.argv[2])))
    print(proxy.port, flush=True)
    for line in sys.stdin:
        getattr(proxy, line.strip())()
        print("ok", flush=True)


if __name__ == "__main__":
    main()
