"""Every error of the API as OpenAI's envelope {"error": {"message", "type", "param", "code"}},
and the one registry of the codes the gateway itself answers with (the docs page lists it)."""
import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

import database

log = logging.getLogger("qingcheng")

# (status, code, what the docs page says of it: a text of web/i18n.py), in the docs' order.
CODES = (
    (400, "invalid_request", "e_400"), (400, "unknown_provider", "e_400"),
    (400, "model_not_found", "e_400"), (400, "unsupported_parameter", "e_400"),
    (401, "invalid_api_key", "e_401"),
    (403, "insufficient_balance", "e_403"), (403, "key_budget_exceeded", "e_403_budget"),
    (403, "model_not_allowed", "e_403_model"), (403, "ip_not_allowed", "e_403_ip"),
    (404, "not_found", "e_404"), (405, "method_not_allowed", "e_404"),
    (404, "model_not_found", "e_404_model"),
    (413, "request_too_large", "e_413"), (431, "request_header_too_large", "e_431"),
    (429, "rate_limit_exceeded", "e_429"), (429, "upstream_rate_limited", "e_429_upstream"),
    (500, "internal_error", "e_500"),
    (502, "upstream_error", "e_502"),
    (503, "provider_not_configured", "e_503"), (503, "database_unavailable", "e_503_database"),
    (504, "upstream_timeout", "e_504"),
)
TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "insufficient_quota",
         404: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
         431: "invalid_request_error",
         429: "rate_limit_error"}


RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    def __init__(self, status, code, message, param=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param
        self.headers = headers or {}

    @property
    def type(self):
        return TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")

    def body(self):
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}

    def response(self):
        response = jsonify(self.body())
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


def bad_request(message, param=None, code="invalid_request"):
    return ApiError(400, code, message, param=param)


def is_api_request():
    return request.path.startswith("/v1/")


def register(app, page_error):
    """JSON errors on the API routes; `page_error(status)` renders them everywhere else."""

    @app.errorhandler(ApiError)
    def api_error(error):
        return error.response()

    @app.errorhandler(HTTPException)
    def http_error(error):
        if error.code is None:
            return error
        if not is_api_request():
            return page_error(error.code)
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(
            error.code, "invalid_request")
        return ApiError(error.code, code, error.description).response()

    @app.errorhandler(Exception)
    def internal_error(error):
        failure = server_error(error)
        if failure.status == 500 and not is_api_request():
            return page_error(500)
        return failure.response()


def server_error(error):
    """The ApiError for an exception nothing else handled: 503 `database_unavailable` while the
    database cannot be used, on every route and page alike (a page cannot be drawn without it
    either: docs/storage.md); else 500, logged with its traceback, which the caller never sees."""
    if database.is_unavailable(error):
        log.warning("database unavailable on %s %s: %s", request.method, request.path,
                    database.reason(error))
        return ApiError(503, "database_unavailable",
                        "The gateway's database is unavailable; try again shortly.",
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    log.exception("internal error on %s %s", request.method, request.path)
    return ApiError(500, "internal_error", "The gateway failed to handle this request.")
