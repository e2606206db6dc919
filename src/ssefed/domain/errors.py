"""Errors the domain raises; the web edge turns them into problem+json, the CLI into a message."""


class DomainError(Exception):
    status = 400


class InvalidInput(DomainError):
    """A field of the input is invalid; ``field`` names it (dotted path)."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409
