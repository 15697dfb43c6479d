"""The page language and the pages' words in it: 简体中文 first (the default), or English.

The language is the `?lang=` switch (remembered in a cookie), else the browser's Accept-Language.
"""
from flask import g, request

from web import docs_text, pages_text

LANGUAGES = ("zh", "en")

STRINGS = {**pages_text.STRINGS, **docs_text.STRINGS}  # each name in one of them

TEXT = {lang: {name: pair[i] for name, pair in STRINGS.items()} for i, lang in enumerate(LANGUAGES)}


def choose(asked, remembered, accept_languages):
    """The page language: the one asked for, else the remembered one, else the browser's, else zh."""
    for lang in (asked, remembered):
        if lang in LANGUAGES:
            return lang
    return accept_languages.best_match(LANGUAGES, default=LANGUAGES[0])


def language():
    if "lang" not in g:
        g.lang = choose(request.args.get("lang"), request.cookies.get("lang"),
                        request.accept_languages)
    return g.lang


def t(name, /, **values):
    """The text `name` in the request's language, with `values` filled in."""
    text = TEXT[language()][name]
    return text.format(**values) if values else text
