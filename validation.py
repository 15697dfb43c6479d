"""What the command line and the pages accept alike: names, labels, notes, amounts, passwords,
numbers, dates, and the fields of channels and key policies. Each check returns the value it took
(lists as lists) or raises ValueError saying what is wrong; the pages word that in the visitor's
language, the command line shows it as it is."""
import ipaddress
import re
import time
from datetime import datetime, timezone
from urllib.parse import urlparse

import money
from providers import PROVIDERS

ACCOUNT_NAME = re.compile(r"^[\w.@-]{1,64}$")
MODEL_NAME = re.compile(r"^[\w./:-]{1,100}$")
WHOLE_NUMBER = re.compile(r"^[0-9]{1,9}$")
CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SECRET = re.compile(r"^[\x21-\x7e]{1,1000}$")
MIN_PASSWORD = 8
MAX_LABEL, MAX_NOTE = 100, 200
MAX_YUAN = 10**9  # far below what a BIGINT column of micro-yuan holds
MAX_AMOUNT = MAX_YUAN * money.MICRO


def account_name(text):
    """No blank and no space: every name shows, and can be clicked, on the admin page."""
    if not ACCOUNT_NAME.match(text or ""):
        raise ValueError("a name is 1 to 64 letters, digits or . @ _ - (no spaces)")
    return text


def model_name(text):
    if not MODEL_NAME.match(text or ""):
        raise ValueError("a model name is 1 to 100 letters, digits or . / : _ -")
    return text


def provider(name, known=tuple(PROVIDERS)):
    """A provider's name among `known`: the built-in ones, and self-hosted channels' when given."""
    if name not in known:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(known)}")
    return name


def password(text):
    if len(text or "") < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    return text


def label(text):
    """A key's label, trimmed; it may be blank."""
    return _at_most(MAX_LABEL, (text or "").strip(), "a label")


def note(text):
    """A top-up's note, trimmed."""
    return _at_most(MAX_NOTE, (text or "").strip(), "a note")


def _at_most(length, text, what):
    if len(text) > length:
        raise ValueError(f"{what} has at most {length} characters")
    return text


def amount(text, positive=False):
    """Micro-yuan from a decimal string of 元, from 0 (or above, when `positive`) to a billion."""
    micro = money.parse_yuan(text)
    if not (0 < micro if positive else 0 <= micro) or micro > MAX_AMOUNT:
        lowest = "more than 0" if positive else "from 0"
        raise ValueError(f"an amount must be {lowest} and at most {MAX_YUAN:,} 元, not {text}")
    return micro


def whole_number(text):
    """A positive integer of at most nine digits."""
    text = str(text).strip()
    if not WHOLE_NUMBER.match(text) or int(text) < 1:
        raise ValueError(f"a whole number from 1 to 999,999,999, not {text!r}")
    return int(text)


def moment(text):
    """A unix time from an ISO date and time, taken as UTC unless it names its offset."""
    try:
        value = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise ValueError(f"a date and time such as 2027-01-31T18:00, not {text!r}") from None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def future(timestamp):
    """A unix time that has not come yet: a key made to expire in the past would be dead at birth."""
    if timestamp <= time.time():
        raise ValueError(f"{utc(timestamp)} is in the past")
    return timestamp


def expiry(text):
    """When a key stops working: a date and time still to come."""
    return future(moment(text))


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
