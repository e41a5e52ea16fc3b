"""Who may do what: every permission, the one table of what each role holds, and the guard that
every GraphQL field, REST route, console page and CLI command calls.

The roles are the User aggregate's (it refuses unknown ones); what they may do is policy, and
lives here only. A permission is `<area>:<action>`; every action named `read` changes nothing,
which is what makes the auditor read-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal
from uuid import UUID

from vigil.domain.user import Role

__all__ = [
    "READ_PERMISSIONS",
    "ROLE_PERMISSIONS",
    "Permission",
    "PermissionDenied",
    "Principal",
    "Role",
    "authorize",
    "authorize_account",
    "permissions_of",
]


class Permission(StrEnum):
    ALERTS_READ = "alerts:read"
    """Alerts, their timelines and explanations, entity views, alert analytics."""
    ALERTS_ACT = "alerts:act"
    """Acknowledge, assign, comment, escalate, dismiss, resolve, reopen, tag; take from a queue."""
    CASES_READ = "cases:read"
    """Cases, their timelines and files, case reports."""
    CASES_ACT = "cases:act"
    """Open, assign, comment, move, attach and detach alerts, add or remove files, close, reopen."""
    LABELS_READ = "labels:read"
    LABELS_WRITE = "labels:write"
    """Apply and revoke verdicts on records and entities (closing a case labels by cases:act)."""
    QUEUES_READ = "queues:read"
    QUEUES_MANAGE = "queues:manage"
    """Define, redefine and retire queues: who gets which work, and how fast."""
    RULES_READ = "rules:read"
    """Rule sets and their versions; trying rules on a record."""
    RULES_MANAGE = "rules:manage"
    """Draft, shadow, publish and retire rule versions."""
    MODELS_READ = "models:read"
    """Model lines, versions, metrics, champion/challenger comparisons, threshold advice."""
    MODELS_TRAIN = "models:train"
    MODELS_PROMOTE = "models:promote"
    """Promote to shadow or champion, demote, retire, change a threshold."""
    SOURCES_READ = "sources:read"
    """Data-source contracts, feature pipelines, ingest counts, the dead-letter queue."""
    SOURCES_MANAGE = "sources:manage"
    """Apply source and pipeline documents; replay dead letters."""
    INGEST_WRITE = "ingest:write"
    """Send records in: REST ingest and file uploads (signed webhooks carry their own proof)."""
    SCORING_SCORE = "scoring:score"
    """The REST scoring API."""
    ESCALATIONS_READ = "escalations:read"
    ESCALATIONS_MANAGE = "escalations:manage"
    """Escalation policies and the subscriptions that deliver them."""
    AUDIT_READ = "audit:read"
    """The whole event log, as-of views, tamper-evidence checks and exports."""
    USERS_READ = "users:read"
    """Users, their roles and their keys' names and dates (never a secret or a hash)."""
    USERS_MANAGE = "users:manage"
    """Register, grant, revoke, disable, enable, reset passwords, issue keys for others."""
    PII_REVEAL = "pii:reveal"
    """See a masked personal field in clear; every reveal is recorded."""
    PII_ERASE = "pii:erase"
    """Crypto-shred a subject's personal data (GDPR erasure)."""


P = Permission

READ_PERMISSIONS = frozenset(p for p in Permission if p.endswith(":read"))

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        # Works alerts into cases and gives the verdicts; sees what decided (rules, models), how
        # escalation works and where records come from (a source's contract tells which fields
        # a record has and which are personal; its dead letters, tokenised, why one never became
        # an alert), but changes none of them, nor who gets which work.
        Role.ANALYST: frozenset(
            {
                P.ALERTS_READ,
                P.ALERTS_ACT,
                P.CASES_READ,
                P.CASES_ACT,
                P.LABELS_READ,
                P.LABELS_WRITE,
                P.QUEUES_READ,
                P.RULES_READ,
                P.MODELS_READ,
                P.ESCALATIONS_READ,
                P.SOURCES_READ,
            }
        ),
        # Connects the sources: contracts, pipelines, ingestion, the dead letters, and the
        # systems that call scoring. Imports chargebacks as labels. Reads the models' feature
        # schemas and the rules that consume the fields, but decides nothing.
        Role.DATA_ENGINEER: frozenset(
            {
                P.SOURCES_READ,
                P.SOURCES_MANAGE,
                P.INGEST_WRITE,
                P.SCORING_SCORE,
                P.LABELS_READ,
                P.LABELS_WRITE,
                P.MODELS_READ,
                P.RULES_READ,
            }
        ),
        # Owns what decides: trains and promotes models and publishes the rules scored beside
        # them (they are backtested together). Reads alerts, cases and labels to judge them.
        Role.MODEL_OWNER: frozenset(
            {
                P.MODELS_READ,
                P.MODELS_TRAIN,
                P.MODELS_PROMOTE,
                P.RULES_READ,
                P.RULES_MANAGE,
                P.SCORING_SCORE,
                P.LABELS_READ,
                P.ALERTS_READ,
                P.CASES_READ,
                P.SOURCES_READ,
            }
        ),
        # Everything. Withholding pii:reveal from an admin would be theatre: they can grant
        # themselves any role. Their reveals are recorded like anyone's.
        Role.ADMIN: frozenset(Permission),
        # Reads everything, the full event log included, and changes nothing. No pii:reveal:
        # proving what happened and who saw what needs the record, not the personal data in it.
        Role.AUDITOR: READ_PERMISSIONS,
        # Held beside another role by the few who must see personal data in clear (a fraud
        # investigator calling a customer). Not part of any working role, so granting it is a
        # deliberate, recorded act, and nobody needs admin just to read a name.
        Role.PII_REVIEWER: frozenset({P.PII_REVEAL}),
    }
)


def permissions_of(roles: Iterable[str]) -> frozenset[Permission]:
    """Everything the roles allow together; unknown role names allow nothing."""
    known = {str(role): role for role in Role}
    granted: set[Permission] = set()
    for role in roles:
        if role in known:
            granted |= ROLE_PERMISSIONS[known[role]]
    return frozenset(granted)


Via = Literal["password", "api_key", "token", "session"]
"""How the caller proved who they are: a password just now, an API key, an access or refresh
token, or a console session."""


@dataclass(frozen=True)
class Principal:
    """Who is asking, in which tenant, how they proved it, and what they may do now."""

    user_id: UUID
    tenant_id: str
    username: str
    roles: frozenset[Role]
    permissions: frozenset[Permission]
    """For an API key: its scopes within what its user may do now."""
    via: Via
    key_id: str | None = None

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions


class PermissionDenied(Exception):
    """The principal lacks the permission. Not a DomainError: the boundaries answer it with 403
    (or a GraphQL error), never as a refused command on the record."""

    def __init__(self, permission: Permission) -> None:
        super().__init__(f"this needs the permission {permission}")
        self.permission = permission


def authorize(principal: Principal, permission: Permission) -> None:
    """The one guard: returns when the principal holds the permission, else PermissionDenied."""
    if permission not in principal.permissions:
        raise PermissionDenied(permission)


def authorize_account(principal: Principal, user_id: UUID) -> None:
    """Changing one's own password or API keys needs no permission, but an API key cannot do
    it (a leaked key must not mint keys or lock its owner out); anyone else's needs
    users:manage."""
    own = principal.user_id == user_id and principal.via != "api_key"
    if not own:
        authorize(principal, Permission.USERS_MANAGE)
