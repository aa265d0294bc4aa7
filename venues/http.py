"""The one place venue HTTP calls turn transport failures into the executor's terms (venues/errors.py)."""

from __future__ import annotations

from typing import Any

import httpx

from venues import errors


async def send(client: httpx.AsyncClient, venue: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request whose timeout or connection failure raises errors.Unknown (the venue may have acted on
    it), except a failure to connect at all, which raises errors.NotSent (nothing left this machine)."""
    try:
        return await client.request(method, path, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise errors.NotSent(venue, f"{method} {path}: could not connect ({type(exc).__name__})") from None
    except httpx.TimeoutException as exc:
        raise errors.Unknown(venue, f"{method} {path}: timeout ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise errors.Unknown(venue, f"{method} {path}: connection error ({type(exc).__name__})") from None


def json_body(resp: httpx.Response) -> Any:
    """The JSON body of an error answer, or {} when it has none or it is not JSON."""
    try:
        return resp.json()
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested too deep to parse
        return {}


def success_body(resp: httpx.Response, venue: str, what: str) -> Any:
    """The JSON body of a 2xx answer ({} when empty). An answer that cannot be read raises errors.Unknown:
    the request was accepted, what it did is unknown (the executor looks the order up)."""
    if not resp.content:
        return {}
    try:
        return resp.json()
    except (ValueError, RecursionError):
        raise errors.Unknown(venue, f"{what}: HTTP {resp.status_code} answer that is not JSON") from None
