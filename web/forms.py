"""What every page's forms share: a field that cannot be taken becomes a FormError in the page's
language, shown on the page the form sits on."""
from flask import request

import validation
from web.i18n import t


class FormError(ValueError):
    """A form field that cannot be taken; the message says which one and why."""


def amount(text, field, positive=False):
    try:
        return validation.amount(text, positive)
    except ValueError:
        raise FormError(t("amount_positive" if positive and text.strip() else "invalid_amount",
                          field=field)) from None


def whole_number(text, field, required=False):
    """A positive integer, or None for a blank that is not `required`."""
    if not text.strip() and not required:
        return None
    try:
        return validation.whole_number(text)
    except ValueError:
        raise FormError(t("invalid_number", field=field)) from None


def expiry(text):
    """A unix time still to come, or None for a blank."""
    if not text.strip():
        return None
    return checked(validation.future, checked(validation.moment, text, t("invalid_expiry")),
                   t("expiry_past"))


def checked(check, text, message):
    try:
        return check(text)
    except ValueError:
        raise FormError(message) from None


def page_number():
    return max(1, request.args.get("page", 1, type=int))
