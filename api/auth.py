"""API keys and roles.

A key is ``tk_`` followed by 43 URL-safe characters (32 random bytes from `secrets`). Only its SHA-256
digest is stored: with 256 bits of entropy a salt or a slow hash adds nothing, and the digest lets the
server find the key with one indexed look-up. The stored and computed digests are compared with
`hmac.compare_digest`.

Roles: sales_ops may do everything, and only it approves or rejects proposals. Leadership reads
everything and creates scenarios, runs and proposals. An ae key reads plans, and the detail
(assignments, territory) only of the rep it is bound to; it proposes changes to that rep's territory.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ApiKey, Role, utc_now

logger = logging.getLogger(__name__)

KEY_PREFIX = "tk_"
KEY_HEADER = "X-API-Key"


@dataclass(frozen=True)
class Caller:
    """The holder of the valid API key that a request carries."""

    key_id: int
    name: str
    role: Role
    rep_id: str | None


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``token`` is shown once and never stored."""

    id: int
    token: str
    role: Role
    rep_id: str | None
    name: str


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(session: Session, role: Role, name: str, rep_id: str | None = None) -> NewKey:
    """Store a new key's digest and return the key; an ae key needs the rep_id it may see."""
    if role is Role.ae and not rep_id:
        raise ValueError("an ae key needs the rep_id of its account executive")
    if role is not Role.ae and rep_id:
        raise ValueError(f"only ae keys are bound to a rep; a {role.value} key sees every rep")
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, role=role.value, rep_id=rep_id, key_hash=hash_key(token), key_prefix=token[:10],
                 created_at=utc_now())
    session.add(row)
    session.flush()
    logger.info("created API key %d (%s, role %s)", row.id, row.key_prefix, role.value)
    return NewKey(row.id, token, role, rep_id, name)


def revoke_key(session: Session, key_id: int) -> ApiKey | None:
    """Mark a key revoked; return it, or None when no key has that id."""
    row = session.get(ApiKey, key_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utc_now()
        logger.info("revoked API key %d (%s)", row.id, row.key_prefix)
    return row


def find_caller(session: Session, token: str | None) -> Caller | None:
    """Return the caller holding `token`, or None for a missing, unknown or revoked key."""
    if not token or not token.startswith(KEY_PREFIX):
        return None
    digest = hash_key(token)
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return Caller(row.id, row.name, Role(row.role), row.rep_id)


def active_key_count(session: Session, role: Role | None = None) -> int:
    query = select(ApiKey).where(ApiKey.revoked_at.is_(None))
    if role is not None:
        query = query.where(ApiKey.role == role.value)
    return len(session.scalars(query).all())


def describe_key(row: ApiKey) -> str:
    revoked = f", revoked {row.revoked_at:%Y-%m-%d %H:%M} UTC" if row.revoked_at else ""
    rep = f", rep {row.rep_id}" if row.rep_id else ""
    created = row.created_at.astimezone(datetime.UTC) if row.created_at.tzinfo else row.created_at
    return f"{row.id:>4}  {row.key_prefix}...  {row.role:<10} {row.name}{rep} (created {created:%Y-%m-%d %H:%M} UTC{revoked})"
