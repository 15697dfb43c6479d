"""CORS, so that browser apps on the origins of `CORS_ORIGINS` may call the API (README
"Configuration"). Unset, no CORS header is ever sent and browsers keep other origins out.

A preflight on the API is answered 204 with the methods and the headers the API reads, and any
other header it asks for: the API authenticates by key, never by cookie, so a header can give a
page nothing its key does not. Responses expose X-Request-ID, Retry-After and the rate limits.
"""
import logging
import re

from flask import Response, request

from errors import is_api_request

log = logging.getLogger("qingcheng")

API_HEADERS = ("Authorization", "Content-Type", "X-API-Key", "X-AI-Provider", "X-Request-ID",
               "anthropic-version", "anthropic-beta", "OpenAI-Organization", "OpenAI-Project")
EXPOSED_HEADERS = ("X-Request-ID", "Retry-After") + tuple(
    f"x-ratelimit-{what}-{kind}" for kind in ("requests", "tokens") for what in ("limit", "remaining", "reset"))
METHODS = "GET, POST"
PREFLIGHT_CACHE_SECONDS = 600
ORIGIN = re.compile(r"^https?://[^/\s]+$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def register(app):
    """Add CORS to the app when CORS_ORIGINS names origins, or is `*`."""
    allowed = parse_origins(app.config["CORS_ORIGINS"])
    if allowed:
        policy = Policy(allowed)
        app.before_request(policy.answer_preflight)
        app.after_request(policy.add_headers)


def parse_origins(text):
    """The origins of a comma-separated list (`*`: any); a malformed one is logged and left out."""
    origins = {entry.strip().rstrip("/") for entry in (text or "").split(",")} - {""}
    for entry in sorted(origins - {"*"}):
        if not ORIGIN.match(entry):
            log.warning("CORS_ORIGINS: %r is not an origin such as https://app.example.com; "
                        "it is left out.", entry)
            origins.discard(entry)
    return frozenset(origins)


class Policy:
    def __init__(self, origins):
        self.origins = origins

    def allowed_origin(self):
        """The value of Access-Control-Allow-Origin for this request, or None."""
        origin = request.headers.get("Origin")
        if not origin or not is_api_request():
            return None
        if "*" in self.origins:
            return "*"
        return origin if origin in self.origins else None

    def answer_preflight(self):
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        origin = self.allowed_origin()
        if origin is None:
            return None
        response = Response(status=204)
        response.headers.update({
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": METHODS,
            "Access-Control-Allow-Headers": ", ".join(allowed_headers(
                request.headers.get("Access-Control-Request-Headers", ""))),
            "Access-Control-Max-Age": str(PREFLIGHT_CACHE_SECONDS),
        })
        response.vary.update(("Origin", "Access-Control-Request-Headers"))
        return response

    def add_headers(self, response):
        origin = self.allowed_origin()
        if origin is not None and "Access-Control-Allow-Origin" not in response.headers:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
        if is_api_request() and "*" not in self.origins:
            response.vary.add("Origin")
        return response


def allowed_headers(requested):
    """The API's headers, and the well-formed ones a preflight asks for besides."""
    names = {name.lower(): name for name in API_HEADERS}
    for name in (part.strip() for part in requested.split(",")):
        if HEADER_NAME.match(name):
            names.setdefault(name.lower(), name)
    return list(names.values())
