"""The secret key of ``customer_key`` and ``email_hash``, and the keyed hash itself.

dbt's ``hash_pii`` macro turns customer ids and e-mails into HMAC-SHA256 keys
(RFC 2104) with the secret in ``RETENTION_HASH_KEY``, so nobody can recompute a
person's key from their id. Data written by ``retention generate`` (the sample,
the tests, the benchmark) may go without the variable and then uses the public
sample key ``sample_hash_key`` of ``dbt_project.yml``; real data must set it.
This module applies the same rule as the macro ``check_hash_key`` for the
Python side (the build and refresh pre-flight, and the quality checkpoint,
which recomputes the keys of the rows it expects).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import yaml

from retention_warehouse.settings import PROJECT_DIR

HASH_KEY_VARIABLE = "RETENTION_HASH_KEY"
MIN_KEY_BYTES, MAX_KEY_BYTES = 32, 64
GENERATOR_MANIFEST = "_manifest.json"


class HashKeyError(RuntimeError):
    """RETENTION_HASH_KEY is missing (for real data) or unusable."""


@cache
def sample_hash_key(project_dir: Path = PROJECT_DIR) -> str:
    """The public key generated data is hashed with (var ``sample_hash_key``)."""
    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text())
    return str(config["vars"]["sample_hash_key"])


def is_generated(raw_dir: Path) -> bool:
    """True when the raw folder was written by ``retention generate``."""
    return (raw_dir / GENERATOR_MANIFEST).is_file()


def resolve_hash_key(raw_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """The key hash_pii uses for this raw folder; raise :class:`HashKeyError` if none."""
    env = os.environ if environ is None else environ
    key = env.get(HASH_KEY_VARIABLE, "")
    if not key:
        if is_generated(raw_dir):
            return sample_hash_key()
        raise HashKeyError(
            f"{HASH_KEY_VARIABLE} is not set. It is the secret that customer_key and "
            "email_hash are keyed with (HMAC-SHA256): set it to 32-64 random characters "
            "(e.g. `openssl rand -hex 32`), keep it secret and never change it (a new key "
            f"changes every customer_key). Only data written by `retention generate` "
            f"(its folder holds {GENERATOR_MANIFEST}) may go without it.")
    size = len(key.encode("utf-8"))
    if not MIN_KEY_BYTES <= size <= MAX_KEY_BYTES:
        raise HashKeyError(
            f"{HASH_KEY_VARIABLE} must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes long "
            f"(it is {size}): e.g. `openssl rand -hex 32` gives 64 characters.")
    return key


def keyed_hash(value: object, key: str) -> str:
    """HMAC-SHA256 (hex) of the value's text: what hash_pii computes in SQL."""
    return hmac.new(key.encode("utf-8"), str(value).encode("utf-8"), hashlib.sha256).hexdigest()
