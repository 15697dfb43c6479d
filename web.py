"""The web pages: `/` (the API documentation) and `/keys` (key management, sign-in required)."""
from flask import Blueprint

pages = Blueprint("pages", __name__)


def register(app):
    app.register_blueprint(pages)
