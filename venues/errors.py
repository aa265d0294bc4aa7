"""The venue package's failure modes, all under core.errors.ArbError.

How a venue call failed, in the terms the executor must act on (design.md "Exactly-once execution"):
- RateLimited: the request was NOT accepted; retrying the same order before the deadline is safe.
  Never counted by the circuit breaker.
- ServerError (5xx) and Unknown (timeout, connection error): counted by the breaker. After Unknown the
  order may or may not exist at the venue: look it up before any retry.
- Rejected: the venue refused the request (4xx); the order does not exist.
- Duplicate: the venue already has an order with this id (Kalshi 409 while open; Polymarket
  INVALID_ORDER_DUPLICATED): resolve by lookup.
- NotSent: the connection could not be made (refused, DNS): no byte of the request left; may retry.
- AuthError: 401/403, a definite "not accepted" (keys or clock), alerted; not a breaker failure.
executor/answers.py turns each of these into the class that decides what the executor does; `retriable` is true
exactly for the two it sends again (RateLimited, NotSent).

What a venue sent that cannot be used (the feeds count and log these, they never stop a feed):
- ParseError: a WS frame or a REST book that is not valid venue input.
- BookError: a change that cannot apply to a book (a level would go negative or past its bound).
"""

from __future__ import annotations

from core.errors import ArbError


class VenueError(ArbError):
    def __init__(self, venue: str, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(f"{venue}: {message}")
        self.venue = venue
        self.status = status
        self.code = code


class RateLimited(VenueError):
    retriable = True  # not accepted: the same request may go again (after retry_after_s when the venue says)

    def __init__(self, venue: str, message: str = "rate limited", *, retry_after_s: float | None = None, status: int | None = 429) -> None:
        super().__init__(venue, message, status=status)
        self.retry_after_s = retry_after_s


class ServerError(VenueError):
    """5xx: counts toward the breaker. The order may or may not have been accepted."""


class Unknown(VenueError):
    """Timeout, connection lost after sending, unparsable or incomplete answer: the order may have
    executed. Look it up; never re-send."""


class NotSent(VenueError):
    """The connection was never established (refused, DNS, connect timeout): nothing reached the venue."""

    retriable = True


class Rejected(VenueError):
    """4xx other than 409/429: the request was refused and nothing was created."""


class Duplicate(VenueError):
    """An order with this client id / hash already exists: resolve by lookup, never by resending."""


class AuthError(VenueError):
    """401/403: credentials are wrong or the clock is off."""


class ParseError(ArbError, ValueError):
    """Venue input that is not valid (venues/*/parse.py; a ValueError, as it always was). `assets`: the books it
    was for, where the venue's parser can tell (Polymarket: those books must be rebuilt); () if it changes no
    book, None if that cannot be read (any book may be affected)."""

    def __init__(self, message: str, assets: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.assets = assets


class BookError(ArbError, ValueError):
    """A change that cannot apply to the book (e.g. a level would go negative): the book must re-snapshot."""
