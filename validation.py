"""What the command line and the pages accept alike: names, labels, notes, amounts, passwords,
numbers, dates. Each check returns the value it took or raises ValueError saying what is wrong;
the pages word that in the visitor's language, the command line shows it as it is."""
import re
import time
from datetime import datetime, timezone

import money
from providers import PROVIDERS

ACCOUNT_NAME = re.compile(r"^[\w.@-]{1,64}$")
MODEL_NAME = re.compile(r"^[\w./:-]{1,100}$")
WHOLE_NUMBER = re.compile(r"^[0-9]{1,9}$")
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


def provider(name):
    if name not in PROVIDERS:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}")
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
