"""How the worker writes a response to the caller's socket (gevent_worker.HeadWithBody): the head
leaves with the body's first bytes, in one write."""
from gevent_worker import HeadWithBody


class RecordingSocket:
    def __init__(self):
        self.writes = []

    def sendall(self, data):
        self.writes.append(("sendall", bytes(data)))

    def sendfile(self, file, offset=0, count=None):
        self.writes.append(("sendfile", file))

    def close(self):
        self.writes.append(("close", None))

    def getpeername(self):
        return ("127.0.0.1", 1234)


def test_the_head_leaves_with_the_first_bytes_of_the_body():
    sock = RecordingSocket()
    writer = HeadWithBody(sock)
    writer.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    writer.sendall(b"data: 1\n\n")
    writer.sendall(b"data: 2\n\n")
    writer.flush()
    assert sock.writes == [("sendall", b"HTTP/1.1 200 OK\r\n\r\ndata: 1\n\n"), ("sendall", b"data: 2\n\n")]


def test_a_response_without_a_body_leaves_when_it_ends():
    sock = RecordingSocket()
    writer = HeadWithBody(sock)
    writer.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert sock.writes == []
    writer.flush()
    assert sock.writes == [("sendall", b"HTTP/1.1 204 No Content\r\n\r\n")]


def test_a_file_is_sent_after_the_head():
    sock = RecordingSocket()
    writer = HeadWithBody(sock)
    writer.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    writer.sendfile("page.css")
    assert sock.writes == [("sendall", b"HTTP/1.1 200 OK\r\n\r\n"), ("sendfile", "page.css")]


def test_a_response_closed_part_way_sends_nothing_more():
    sock = RecordingSocket()
    writer = HeadWithBody(sock)
    writer.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    writer.close()
    writer.flush()
    assert sock.writes == [("close", None)]


def test_everything_else_is_the_socket_itself():
    assert HeadWithBody(RecordingSocket()).getpeername() == ("127.0.0.1", 1234)
