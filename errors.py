"""Every error of the API as the OpenAI envelope {"error": {"message", "type", "param", "code"}}."""
import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("qingcheng")

TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "insufficient_quota",
         404: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
         429: "rate_limit_error"}


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


def register(app):
    """JSON errors on the API routes; the web pages keep Flask's HTML ones."""

    @app.errorhandler(ApiError)
    def api_error(error):
        return error.response()

    @app.errorhandler(HTTPException)
    def http_error(error):
        if not request.path.startswith("/v1/"):
            return error
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(
            error.code, "invalid_request")
        return ApiError(error.code, code, error.description).response()

    @app.errorhandler(Exception)
    def internal_error(error):
        log.exception("internal error on %s %s", request.method, request.path)
        return ApiError(500, "internal_error", "The gateway failed to handle this request.").response()
