"""The system's own calls where a worker must not yield to its other greenlets. gevent's versions
of poll(), select() and sleep() let every other greenlet ready to run go first, even for no time at
all; under load that is a wait behind hundreds of requests and relays (docs/streaming.md)."""
import select

from gevent.monkey import get_original

sleep = get_original("time", "sleep")  # blocks the whole worker: only for well under a millisecond
_poll = get_original("select", "poll")


def readable_now(sock):
    """Whether `sock` (or a file descriptor) has something to read, or was closed, at this moment.
    poll(), not select(): a worker holding thousands of streams has descriptors past 1023."""
    poll = _poll()
    poll.register(sock, select.POLLIN)
    return bool(poll.poll(0))
