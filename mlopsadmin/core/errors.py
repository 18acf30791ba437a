"""Domain errors shared by services: each carries the HTTP status a page or API answers with."""


class DomainError(Exception):
    status = 400
    title = "This cannot be done"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    """The state changed under the user (stale form, lock held, already decided)."""

    status = 409
    title = "Conflict"


class RuleViolation(DomainError):
    """A business rule refuses the action (gate failed, four-eyes, invalid transition)."""

    status = 422
    title = "Refused by a rule"


class InvalidInput(DomainError):
    status = 400
    title = "Invalid input"


class QueueUnavailable(DomainError):
    """The task queue (Celery broker) did not accept a message: the task was not started."""

    status = 503
    title = "The task queue is not answering"
