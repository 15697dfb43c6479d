"""The log lines (README "Operations"): every line has its time, level, process and the id of the
request being served; `LOG_FORMAT=json` makes each one JSON object, gunicorn's own lines included
(`GunicornLogger`, gunicorn.conf.py's `logger_class`).

A line that tells of an event carries its facts as fields: `log.info("request",
extra=fields(status=200, …))` is `request status=200 …` in text, and `"status": 200` in JSON.
Nothing here imports Flask: gunicorn's master loads this module before gevent patches a worker.
"""
import contextvars
import json
import logging
import os
import sys
import time

from gunicorn import glogging

# The id of the request being served (gateway.open_request sets it). A context variable rather
# than flask.g: a stream settles after Flask's request context has ended, in the same greenlet.
REQUEST_ID = contextvars.ContextVar("request_id", default="-")


def fields(**values):
    """The `extra` of a logging call whose facts are `values`."""
    return {"fields": values}


def iso_time(record):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """`2026-12-02T09:40:00.123Z INFO [pid] req_… message key=value …`"""

    def format(self, record):
        line = (f"{iso_time(record)} {record.levelname} [{record.process}] "
                f"{getattr(record, 'request_id', None) or REQUEST_ID.get()} {record.getMessage()}")
        for name, value in getattr(record, "fields", {}).items():
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            line += f" {name}={json.dumps(text, ensure_ascii=False) if ' ' in text or not text else text}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, pid, request_id, logger, message, then the fields."""

    def format(self, record):
        line = {"time": iso_time(record), "level": record.levelname, "pid": record.process,
                "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
                "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format):
    return JsonFormatter() if log_format == "json" else TextFormatter()


class OwnHandler(logging.StreamHandler):
    """The handler `configure` puts on the root logger, told apart to be replaced."""


def configure(log_format):
    """Every logger but gunicorn's (which `GunicornLogger` formats) writes to stderr in
    `log_format`; the gateway's own at INFO. Run by every app made, so it replaces its handler."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, OwnHandler)]:
        root.removeHandler(handler)
    handler = OwnHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
    logging.getLogger("qingcheng").setLevel(logging.INFO)
    logging.captureWarnings(True)


class GunicornLogger(glogging.Logger):
    """gunicorn's error and access logs in the gateway's format (LOG_FORMAT, read from the
    environment). The access line carries the request id the gateway answered with, and in
    JSON only its own fields: never a request header, where keys travel."""

    def setup(self, cfg):
        super().setup(cfg)
        self.json = os.environ.get("LOG_FORMAT", "text") == "json"
        chosen = formatter("json" if self.json else "text")
        for handler in self.error_log.handlers + self.access_log.handlers:
            handler.setFormatter(chosen)

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        extra = {"request_id": atoms["{x-request-id}o"]}
        if self.json:  # the text line is the access format alone
            extra["fields"] = {"remote": atoms["h"], "method": atoms["m"], "path": atoms["U"],
                               "status": resp.status_code, "bytes": atoms["b"], "ms": atoms["M"]}
        try:
            self.access_log.info(self.cfg.access_log_format, atoms, extra=extra)
        except Exception:  # gunicorn's own rule: a bad access format must not fail the request
            self.error("access log line failed")
