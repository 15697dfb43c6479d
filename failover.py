"""A request's channels tried in turn until one answers (docs/channels.md).

Until the first byte has reached the caller, a failure of the channel — an UpstreamFailure:
unreachable, timed out, 429, 5xx, a malformed answer, a refusal of the operator's key or funds —
moves the request to the next channel of its plan, while the request's deadline lasts. The
caller's own 4xx (any other ApiError) is passed on at once. After the first byte nothing moves: a
stream that fails part-way ends with an error event, as it always did.

A whole answer is read before anything is sent, so it may fail over until it is read; a stream
may until its first event (or keep-alive) is ready to send. The hold is the request's, whatever
the attempts: the Bill counts them and records the channel that answered.
"""
import time
from dataclasses import dataclass

import routing
from errors import ApiError
from providers import relay
from providers.base import UpstreamFailure


@dataclass(frozen=True)
class Call:
    """How one request calls upstreams: the pooled session, the timeouts, the channels' health to
    report to, and when the request started (its deadline counts from then, across attempts)."""
    session: object
    timeouts: relay.Timeouts
    health: object
    started: float


def complete(plan, chat, bill, call):
    """(answer bytes, usage) of the first channel that gives a whole answer."""
    def attempt(channel, answered):
        response = relay.open_upstream(call.session, channel, routing.aimed(chat.body, channel),
                                       False, call.timeouts)
        answered()
        return relay.read_completion(response, channel, call.timeouts, call.started)

    return first_answer(plan, attempt, bill, call)


def stream(plan, chat, bill, call, on_finish, error_event):
    """The relay.Stream of the first channel that sends a first event; `on_finish(stream)` settles
    it, and a failure part-way counts against the channel's health and ends the stream with
    `error_event(error)`."""
    def attempt(channel, answered):
        def finished(relayed):
            on_finish(relayed)
            if isinstance(relayed.failure, UpstreamFailure):
                call.health.failed(channel, relayed.failure)

        response = relay.open_upstream(call.session, channel, routing.aimed(chat.body, channel),
                                       True, call.timeouts)
        answered()  # before the first event, which may be the last and settle the stream
        relayed = relay.Stream(response, channel, chat.wants_usage, call.timeouts, call.started,
                               on_finish=finished, error_event=error_event)
        relayed.begin()
        return relayed

    return first_answer(plan, attempt, bill, call)


def first_answer(plan, attempt, bill, call):
    """`attempt(channel, answered)` on each channel of the plan in turn until one does not fail;
    the last failure if all do (or the deadline passed between attempts). `answered()` is called
    once the upstream began to answer (its status line)."""
    deadline = call.started + call.timeouts.total
    failure = None
    for channel in plan:
        if failure is not None and time.monotonic() >= deadline:
            break
        bill.attempt()
        began = time.monotonic()

        def answered(channel=channel, began=began):
            bill.answered(channel.name, round((time.monotonic() - began) * 1000))

        try:
            result = attempt(channel, answered)
        except UpstreamFailure as error:
            bill.answered(None, None)
            call.health.failed(channel, error)
            failure = error
            continue
        except ApiError:  # the caller's own request, judged by a working channel
            answered()
            call.health.answered(channel)
            raise
        call.health.answered(channel)
        return result
    raise failure
