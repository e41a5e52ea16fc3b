"""Domain errors: each names the rule that was broken, in words an analyst can read."""

from __future__ import annotations


class DomainError(Exception):
    """A command broke an invariant; nothing was recorded."""


class AlertNotFound(DomainError):
    def __init__(self, alert_id: object) -> None:
        super().__init__(f"alert {alert_id} does not exist")
        self.alert_id = alert_id


class AlertIsClosed(DomainError):
    """Only Reopen may follow a resolved or dismissed alert."""


class AlertAlreadyAcknowledged(DomainError):
    pass


class AlertIsNotClosed(DomainError):
    pass


class AlertInAnotherCase(DomainError):
    """An alert is investigated in one case at a time."""


class AlreadyTaken(DomainError):
    """Someone works this item already: take-next hands out only unassigned work."""


class CaseNotFound(DomainError):
    def __init__(self, case_id: object) -> None:
        super().__init__(f"case {case_id} does not exist")
        self.case_id = case_id


class CaseIsClosed(DomainError):
    """Only Reopen may follow a closed case."""


class CaseIsNotClosed(DomainError):
    pass


class IllegalTransition(DomainError):
    """The case's workflow does not lead from its status to the one asked for."""


class LabelNotApplied(DomainError):
    """Nothing stands on the subject, so there is nothing to revoke."""


class InvalidCommand(DomainError):
    """A field of the command is missing or out of range."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class QueueNotFound(DomainError):
    def __init__(self, queue_id: object) -> None:
        super().__init__(f"queue {queue_id} does not exist")
        self.queue_id = queue_id


class RuleSyntaxError(InvalidCommand):
    """A rule's expression does not parse; the reason says where, and what was expected there."""

    def __init__(self, field: str, reason: str, line: int = 1, column: int = 1) -> None:
        super().__init__(field, reason)
        self.line = line
        self.column = column


class RuleSetNotFound(DomainError):
    def __init__(self, source: object) -> None:
        super().__init__(f"no rules were drafted for source {source}")
        self.source = source


class RuleVersionNotFound(DomainError):
    def __init__(self, version: int) -> None:
        super().__init__(f"rule set has no version {version}")
        self.version = version


class IllegalRuleStage(DomainError):
    """A rule version's lifecycle does not lead from its stage to the one asked for."""


class RuleVersionIsRetired(IllegalRuleStage):
    """A retired version stays retired: draft a copy to bring its rules back."""


class UserNotFound(DomainError):
    def __init__(self, user_id: object) -> None:
        super().__init__(f"user {user_id} does not exist")
        self.user_id = user_id


class UsernameTaken(InvalidCommand):
    """A username is unique within its tenant."""

    def __init__(self, username: str) -> None:
        super().__init__("username", f"{username} is taken")
        self.username = username


class UserDisabled(DomainError):
    """A disabled user gains no role, password or API key until enabled again."""


class UserNotDisabled(DomainError):
    pass


class RoleAlreadyHeld(DomainError):
    def __init__(self, username: str, role: str) -> None:
        super().__init__(f"{username} holds the role {role} already")
        self.role = role


class RoleNotHeld(DomainError):
    def __init__(self, username: str, role: str) -> None:
        super().__init__(f"{username} does not hold the role {role}")
        self.role = role


class TooManyApiKeys(DomainError):
    """A user holds a bounded number of active API keys: revoke one to issue another."""


class ApiKeyNotFound(DomainError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key {key_id} does not exist")
        self.key_id = key_id


class ApiKeyAlreadyRevoked(DomainError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key {key_id} is revoked already")
        self.key_id = key_id


class WrongPassword(InvalidCommand):
    """The current password given to change it is not the user's."""

    def __init__(self) -> None:
        super().__init__("current_password", "is not the current password")


class ModelLineNotFound(DomainError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no model line named {name!r}")
        self.name = name


class ModelVersionNotFound(DomainError):
    def __init__(self, line: str, version: str) -> None:
        super().__init__(f"model line {line} has no version {version!r}")
        self.line = line
        self.version = version


class IllegalModelStage(DomainError):
    """A model version's lifecycle does not lead from its stage to the one asked for."""


class ModelVersionIsRetired(IllegalModelStage):
    """A retired version stays retired: its artifact never changes, so it never returns."""
