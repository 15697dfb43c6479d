"""What the command line and the pages accept alike: names, amounts, passwords, numbers, dates,
and the fields of channels and key policies. Each check returns the value it took (lists as
lists) or raises ValueError saying what is wrong."""
import ipaddress
import re
from datetime import datetime, timezone
from urllib.parse import urlparse

import money

ACCOUNT_NAME = re.compile(r"^[\w.@-]{1,64}$")
MODEL_NAME = re.compile(r"^[\w./:-]{1,100}$")
WHOLE_NUMBER = re.compile(r"^[0-9]{1,9}$")
CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SECRET = re.compile(r"^[\x21-\x7e]{1,1000}$")
MIN_PASSWORD = 8
MAX_AMOUNT = 10**9 * money.MICRO  # a billion 元: far below what a BIGINT column holds


def account_name(text):
    if not ACCOUNT_NAME.match(text or ""):
        raise ValueError("a name is 1 to 64 letters, digits or . @ _ -")
    return text


def model_name(text):
    if not MODEL_NAME.match(text or ""):
        raise ValueError("a model name is 1 to 100 letters, digits or . / : _ -")
    return text


def password(text):
    if len(text or "") < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    return text


def amount(text, positive=False):
    """Micro-yuan from a decimal string of 元, from 0 (or above, when `positive`) to a billion."""
    micro = money.parse_yuan(text)
    if not (0 < micro if positive else 0 <= micro) or micro > MAX_AMOUNT:
        raise ValueError(f"an amount of 元 {'above' if positive else 'from'} 0 up to "
                         f"{money.yuan(MAX_AMOUNT)}")
    return micro


def whole_number(text):
    """A positive integer of at most nine digits."""
    text = str(text).strip()
    if not WHOLE_NUMBER.match(text) or int(text) < 1:
        raise ValueError("a whole number of at least 1")
    return int(text)


def moment(text):
    """A unix time from an ISO date and time, taken as UTC unless it names its offset."""
    try:
        value = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise ValueError("a date and time such as 2027-01-31T18:00") from None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def utc(timestamp, pattern="%Y-%m-%dT%H:%M:%SZ"):
    """A unix time written in UTC; '' for None."""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime(pattern) if timestamp else ""


def channel_name(text):
    if not CHANNEL_NAME.match(text or ""):
        raise ValueError("a channel name is 1 to 64 lowercase letters, digits or . _ -, "
                         "starting with a letter or digit")
    return text


def base_url(text):
    parsed = urlparse(text or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(text) > 500 \
            or any(c.isspace() for c in text):
        raise ValueError("a base URL is http:// or https://, a host, and the path before "
                         "/chat/completions")
    return text.rstrip("/")


def secret(text):
    """An upstream API key: printable ASCII without spaces; '' for none (a local server)."""
    if text and not SECRET.match(text):
        raise ValueError("an API key is printable characters without spaces")
    return text


def integer(text, low, high):
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValueError(f"a whole number from {low} to {high}") from None
    if not low <= value <= high:
        raise ValueError(f"a whole number from {low} to {high}")
    return value


def model_list(text):
    """Model names, comma-separated; [] for none."""
    return [model_name(part.strip()) for part in (text or "").split(",") if part.strip()]


def model_map(text):
    """`caller-name=upstream-name` pairs, comma-separated, as a dict."""
    pairs = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        caller, equals, upstream = part.partition("=")
        if not equals:
            raise ValueError("a model map is caller-name=upstream-name pairs, comma-separated")
        pairs[model_name(caller.strip())] = model_name(upstream.strip())
    return pairs


def networks(text):
    """IP networks (CIDRs, or single addresses), comma-separated, in their normal form."""
    try:
        return [str(ipaddress.ip_network(part.strip(), strict=False))
                for part in (text or "").split(",") if part.strip()]
    except ValueError:
        raise ValueError("networks are CIDRs such as 10.0.0.0/8 or 203.0.113.7, "
                         "comma-separated") from None
