"""The one place venue HTTP calls turn transport failures and error answers into the executor's terms
(venues/errors.py). Each venue reads its own error bodies (its `Refusal`); what a status means once the venue's
own readings (rate limit, duplicate) are done is the same for both (`refused`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

import httpx

from venues import errors

# One object of a venue's JSON answer: each value is checked (isinstance) where it is read.
JsonObject = dict[str, object]
# A request's query parameters (httpx sends each value as its text).
Params = Mapping[str, str | int | float | bool | None]


async def send(client: httpx.AsyncClient, venue: str, method: str, path: str, *, params: Params | None = None, json: object = None,
               content: bytes | None = None, headers: Mapping[str, str] | None = None) -> httpx.Response:
    """A request whose timeout or connection failure raises errors.Unknown (the venue may have acted on
    it), except a failure to connect at all, which raises errors.NotSent (nothing left this machine)."""
    try:
        return await client.request(method, path, params=params, json=json, content=content, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise errors.NotSent(venue, f"{method} {path}: could not connect ({type(exc).__name__})") from None
    except httpx.TimeoutException as exc:
        raise errors.Unknown(venue, f"{method} {path}: timeout ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise errors.Unknown(venue, f"{method} {path}: connection error ({type(exc).__name__})") from None


# (what, answer) -> the error of an answer with a status of 300 or more; `what` is "METHOD path".
Refusal = Callable[[str, httpx.Response], errors.VenueError]


async def request(client: httpx.AsyncClient, venue: str, method: str, path: str, refusal: Refusal, *, params: Params | None = None,
                  json: object = None, content: bytes | None = None, headers: Mapping[str, str] | None = None) -> object:
    """send(), then the JSON body of a 2xx answer (success_body); any other answer raises refusal()'s error."""
    resp = await send(client, venue, method, path, params=params, json=json, content=content, headers=headers)
    if resp.status_code < 300:
        return success_body(resp, venue, f"{method} {path}")
    raise refusal(f"{method} {path}", resp)


def refused(venue: str, what: str, status: int, *, code: str | None = None) -> errors.VenueError:
    """An error answer that is neither a rate limit nor a duplicate: 401/403 AuthError (our keys or clock), 5xx
    ServerError (the request may have been accepted), any other Rejected (nothing was created)."""
    if status in (401, 403):
        return errors.AuthError(venue, what, status=status, code=code)
    if status >= 500:
        return errors.ServerError(venue, what, status=status, code=code)
    return errors.Rejected(venue, what, status=status, code=code)


def json_body(resp: httpx.Response) -> object:
    """The JSON body of an error answer, or {} when it has none or it is not JSON."""
    try:
        return _decoded(resp)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested too deep to parse
        return {}


def success_body(resp: httpx.Response, venue: str, what: str) -> object:
    """The JSON body of a 2xx answer ({} when empty). An answer that cannot be read raises errors.Unknown:
    the request was accepted, what it did is unknown (the executor looks the order up)."""
    if not resp.content:
        return {}
    try:
        return _decoded(resp)
    except (ValueError, RecursionError):
        raise errors.Unknown(venue, f"{what}: HTTP {resp.status_code} answer that is not JSON") from None


def _decoded(resp: httpx.Response) -> object:
    # httpx types a decoded body as Any: it is a JSON value, an object whose parts are checked where read.
    return cast(object, resp.json())


def json_text(value: object) -> str | None:
    """A field of a venue's JSON answer as the text the parsers read (a JSON number as its str()); None when null."""
    return None if value is None else str(value)


def json_object(data: object, venue: str, what: str) -> JsonObject:
    """`data` (a 2xx answer's body) as a JSON object; any other JSON raises errors.Unknown: the request was
    accepted, what it did is unknown."""
    if not isinstance(data, dict):
        raise errors.Unknown(venue, f"{what}: not a JSON object: {str(data)[:200]!r}")
    return data
