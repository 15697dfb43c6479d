"""What the command line and the pages accept alike: names, amounts, passwords, numbers, dates.
Each check returns the value it took or raises ValueError saying what is wrong."""
import re
from datetime import datetime, timezone

import money

ACCOUNT_NAME = re.compile(r"^[\w.@-]{1,64}$")
MODEL_NAME = re.compile(r"^[\w./:-]{1,100}$")
WHOLE_NUMBER = re.compile(r"^[0-9]{1,9}$")
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
