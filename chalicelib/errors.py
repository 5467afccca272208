"""Errors the service layer raises; `app.py` maps each to one HTTP answer.

Messages are for people and never contain a secret, code, token or password.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "invalid_request"
    message = "The request is not valid."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message

    @property
    def headers(self) -> dict[str, str | list[str]]:
        return {}


class InvalidRequest(ServiceError):
    pass


class Unauthorized(ServiceError):
    status, code, message = 401, "unauthorized", "Authentication is required."


class InvalidCredentials(ServiceError):
    status, code, message = 401, "invalid_credentials", "The email or password is wrong."


class InvalidCode(ServiceError):
    status, code, message = 401, "invalid_code", "The code is not valid."


class Forbidden(ServiceError):
    status, code, message = 403, "forbidden", "Your role does not allow this."


class PlanRequired(ServiceError):
    status, code = 403, "plan_required"
    message = "Requiring 2FA needs the Business or Enterprise plan."


class NotFound(ServiceError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(ServiceError):
    status = 409

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PayloadTooLarge(ServiceError):
    status, code, message = 413, "payload_too_large", "The request body is larger than 16 KiB."


class RetryLater(ServiceError):
    """A refusal that carries a `Retry-After` header."""

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))

    @property
    def headers(self) -> dict[str, str | list[str]]:
        return {"Retry-After": str(self.retry_after)}


class TooManyAttempts(RetryLater):
    status, code = 429, "too_many_attempts"
    message = "Too many wrong codes. Wait before trying again."


class TooManyPasswords(RetryLater):
    status, code = 429, "too_many_attempts"
    message = "Too many wrong passwords for this email. Wait before trying again."


class TooManyInvitations(RetryLater):
    status, code = 429, "too_many_attempts"
    message = "Too many invitations: at most 100 an organization a day and 20 a person an hour."


class TemporarilyUnavailable(RetryLater):
    status, code = 503, "temporarily_unavailable"
    message = "The service is temporarily unavailable; nothing was changed. Try again shortly."

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__(retry_after)
