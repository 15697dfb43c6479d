"""Channel API keys encrypted at rest (docs/channels.md), with Fernet: AES in CBC mode and an
HMAC-SHA256 over it, so a wrong key fails loudly instead of decrypting into something else.

The encryption key lives outside the database: `ENCRYPTION_KEY` when set (several, comma-separated,
newest first, while rotating), else a file beside the SQLite database, made on first need with
mode 0600, so the command line and the server share it without configuration. With PostgreSQL
there is no such file: ENCRYPTION_KEY must be set before a channel key can be stored.
"""
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class CredentialsError(RuntimeError):
    """The encryption key is missing, malformed, or not the one the stored keys were made with."""


def key_file_for(database_url):
    """`qingcheng.db.key` beside a SQLite database `qingcheng.db`; None for any other database."""
    prefix = "sqlite:///"
    path = database_url[len(prefix):] if database_url.startswith(prefix) else ""
    return Path(path + ".key") if path and path != ":memory:" else None


class Keyring:
    """Encrypts and decrypts channel keys; decrypted keys are remembered, each decrypted once."""

    def __init__(self, configured=None, key_file=None):
        self.configured, self.key_file = configured or None, key_file
        self._fernet = None
        self._plain = {}

    @property
    def source(self):
        """Where the key lives, in words for an error message."""
        if self.configured:
            return "ENCRYPTION_KEY"
        return f"the key file {self.key_file}" if self.key_file else "ENCRYPTION_KEY (unset)"

    def encrypt(self, secret):
        """The stored form of `secret`; '' stays '' (a local server may need no key)."""
        if not secret:
            return ""
        return self._keys(create=True).encrypt(secret.encode()).decode()

    def decrypt(self, token):
        if not token:
            return ""
        if token not in self._plain:
            self._plain[token] = self._decrypt(token)
        return self._plain[token]

    def rotate(self, token):
        """`token` encrypted anew with the newest key."""
        return self._keys(create=False).rotate(token.encode()).decode() if token else ""

    def add_new_key(self):
        """Put a fresh key first in the key file, keeping the older ones for what they encrypted."""
        if self.configured or not self.key_file:
            raise CredentialsError("ENCRYPTION_KEY is set: put a new key first in it instead "
                                   "(docs/channels.md, Rotating the key)")
        self._write_keys([Fernet.generate_key().decode()] + self._read_file())

    def keep_only_newest(self):
        """After every stored key was rotated: drop the older keys from the key file."""
        if not self.configured and self.key_file:
            self._write_keys(self._read_file()[:1])

    def _decrypt(self, token):
        try:
            return self._keys(create=False).decrypt(token.encode()).decode()
        except InvalidToken:
            self._fernet = None  # the key file may have been rotated by `channels rekey`
        try:
            return self._keys(create=False).decrypt(token.encode()).decode()
        except InvalidToken:
            raise CredentialsError(
                f"{self.source} cannot decrypt the stored channel keys: the encryption key was lost "
                "or changed. Restore it, or remove and re-add the channels (docs/channels.md)."
            ) from None

    def _keys(self, create):
        if self._fernet is None:
            texts = self._configured_keys() or self._read_file() or (
                self._create_file() if create else [])
            if not texts:
                raise CredentialsError(
                    "No encryption key for channel keys: set ENCRYPTION_KEY (a Fernet key, see "
                    "docs/channels.md); with PostgreSQL it is required.")
            self._fernet = MultiFernet([self._fernet_of(text) for text in texts])
        return self._fernet

    def _configured_keys(self):
        return [part.strip() for part in (self.configured or "").split(",") if part.strip()]

    def _fernet_of(self, text):
        try:
            return Fernet(text)
        except ValueError:
            raise CredentialsError(f"{self.source} holds something that is not a Fernet key (32 "
                                   "url-safe base64 bytes; docs/channels.md)") from None

    def _read_file(self):
        if self.configured or not self.key_file or not self.key_file.exists():
            return []
        return [line.strip() for line in self.key_file.read_text().splitlines() if line.strip()]

    def _create_file(self):
        """A new key file, unless another process made one first: then that one."""
        if not self.key_file:
            return []
        try:
            descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self._read_file()
        with os.fdopen(descriptor, "w") as file:
            file.write(Fernet.generate_key().decode() + "\n")
        return self._read_file()

    def _write_keys(self, texts):
        """Replace the key file in one rename, so no reader ever sees half of it."""
        fresh = self.key_file.with_name(self.key_file.name + ".new")
        descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write("".join(text + "\n" for text in texts))
        os.replace(fresh, self.key_file)
        self._fernet = None
