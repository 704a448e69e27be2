"""A content-addressed cache of per-file results (and of whole runs) under ``.evallint_cache/``.

Keys are blake2b digests of a file's bytes, its display path and module name,
and the *salt*: the evallint version, a fingerprint of evallint's own source
files (so an edited checkout never reads results of older code), the settings
that the per-file summaries depend on, and the entry format.

Entries are never trusted: each file holds a magic header, the format, a
keyed checksum of the payload and the payload (a pickle that repeats its own key).
The checksum key is a secret of the user's, kept outside every project
(``$XDG_CACHE_HOME/evallint/secret``), so an entry a repository ships, or anyone
else wrote, fails the check and is never unpickled.
A damaged, truncated, foreign or unreadable entry is ignored and rebuilt; any
exception while loading one counts as a miss. Writes go to a temporary file
first and are renamed into place, so readers see an old entry or a new one.
A cache directory that cannot be written is used read-only, silently.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import tempfile
from pathlib import Path

from evallint import __version__

FORMAT = 1
MAGIC = b"EVLCACHE"
_HEADER = len(MAGIC) + 1 + 32
DEFAULT_DIRECTORY = ".evallint_cache"


def _digest(*parts: bytes) -> str:
    hasher = hashlib.blake2b(digest_size=20)
    for part in parts:
        hasher.update(len(part).to_bytes(8, "little"))
        hasher.update(part)
    return hasher.hexdigest()


def code_fingerprint() -> str:
    """Size and modification time of every module of evallint: a changed checkout is a new cache."""
    package = Path(__file__).resolve().parent
    parts = []
    for root, dirnames, filenames in os.walk(package):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                stat = os.stat(os.path.join(root, name))
                parts.append(f"{os.path.relpath(os.path.join(root, name), package)}:{stat.st_size}:{stat.st_mtime_ns}")
    return _digest("\n".join(parts).encode())


def user_secret() -> bytes:
    """32 random bytes private to this user (created once, mode 0600); per process if that fails."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "evallint", "secret")
    stored = _read_secret(path)
    if stored is not None:
        return stored
    secret = os.urandom(32)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secret)
    except OSError:
        return _read_secret(path) or secret  # another process may have created it first
    return secret


def _read_secret(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            secret = handle.read()
    except OSError:
        return None
    return secret if len(secret) == 32 else None


def cache_directory(settings) -> Path:
    if settings.cache_dir:
        directory = Path(settings.cache_dir)
        if not directory.is_absolute() and settings.project_root:
            directory = Path(settings.project_root) / directory
        return directory
    return Path(settings.project_root or ".") / DEFAULT_DIRECTORY


class Cache:
    def __init__(self, directory: Path, salt: str) -> None:
        self.directory = Path(directory)
        self.salt = salt.encode()
        self._writable: bool | None = None
        self._secret: bytes | None = None  # read on first use, not when the cache is merely set up

    @classmethod
    def for_settings(cls, settings) -> Cache:
        salt = "|".join([__version__, str(FORMAT), code_fingerprint(), repr(settings.analysis_key())])
        return cls(cache_directory(settings), salt)

    # -- keys --------------------------------------------------------------------------------------

    def file_key(self, data: bytes, path: str, absolute: str, module: str, is_package: bool) -> str:
        identity = f"{path}\0{absolute}\0{module}\0{int(is_package)}".encode()
        return _digest(b"file", self.salt, identity, data)

    def run_key(self, *parts: str) -> str:
        return _digest(b"run", self.salt, *(part.encode("utf-8", "surrogatepass") for part in parts))

    def _checksum(self, payload: bytes) -> bytes:
        if self._secret is None:
            self._secret = user_secret()
        return hashlib.blake2b(payload, key=self._secret, digest_size=32).digest()

    def _path(self, key: str) -> Path:
        return self.directory / f"v{FORMAT}" / key[:2] / key[2:]

    # -- entries ---------------------------------------------------------------------------------------

    def load(self, key: str) -> object | None:
        try:
            with open(self._path(key), "rb") as handle:
                blob = handle.read()
        except OSError:
            return None
        if len(blob) < _HEADER or not blob.startswith(MAGIC) or blob[len(MAGIC)] != FORMAT:
            return None
        checksum, payload = blob[len(MAGIC) + 1 : _HEADER], blob[_HEADER:]
        if not hmac.compare_digest(self._checksum(payload), checksum):
            return None
        try:
            stored_key, value = pickle.loads(payload)
        except Exception:  # a foreign or corrupt pickle can raise nearly anything
            return None
        return value if stored_key == key else None

    def store(self, key: str, value: object) -> None:
        if self._writable is False:
            return
        try:
            payload = pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return
        blob = MAGIC + bytes([FORMAT]) + self._checksum(payload) + payload
        target = self._path(key)
        try:
            if self._writable is None:
                self._prepare()
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(blob)
                os.replace(temporary, target)
            except BaseException:
                _remove(temporary)
                raise
            self._writable = True
        except OSError:
            self._writable = False

    def _prepare(self) -> None:
        """Mark the directory as a cache for backup tools and git, as ruff and pytest do."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tag = self.directory / "CACHEDIR.TAG"
        if not tag.exists():
            tag.write_text("Signature: 8a477f597d28d172789f06886806bc55\n# evallint cache\n", encoding="ascii")
        ignore = self.directory / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Created by evallint automatically.\n*\n", encoding="ascii")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
