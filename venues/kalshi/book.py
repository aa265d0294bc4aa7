"""Exact Kalshi order books on the YES price scale, and the per-connection book set with the seq check.

Kalshi sends bids only: YES bids and NO bids. A NO bid at q (NO-leg pricing, the old default) is a YES
ask at 1 - q; with `use_yes_price` the venue already sends it as the YES ask price. `KalshiBook` keeps
YES bids and YES asks as {price: size} in integer units, so both scales give the same book.

`KalshiBooks` is the pure state machine shared by the live feed and `arb books`: it applies messages,
checks the per-sid `seq` (`SeqCheck`) and reports which subscriptions need a re-snapshot (gap, a level going
negative or past MAX_SIZE) or a new subscription (terminal error).

The seq rule is not settled by any real capture: the docs say only that seq counts per subscription;
NautilusTrader restarts its expected sequence on every orderbook_snapshot and ignores `ok` replies
(nautilus_trader crates/adapters/kalshi/src/websocket/handler.rs); TexasCoding/kalshi-python-sdk
(kalshi/ws/sequence.py) keeps snapshots and deltas in one never-reset sequence and ignores replies too; the
docs' `ok` example carries a seq. `SeqCheck` makes no false gap under any of these readings, and under any
reading at all a re-snapshot cannot cause another one (no false gap -> re-snapshot -> false gap loop).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.units import ONE_DOLLAR
from venues.book import Book, BookSet
from venues.errors import BookError
from venues.kalshi.messages import Error, KalshiMessage, Level, Ok, OrderbookDelta, OrderbookSnapshot, Other, Side, Subscribed, Unsubscribed
from venues.kalshi.parse import MAX_SIZE


class SeqCheck:
    """Per-sid seq check under every consistent reading of Kalshi's sequence (pure; see the module doc).

    - A snapshot replaces its book whatever its number: it re-bases the sid. One numbered right after the last
      message, or at or below it (a sequence that restarts on snapshots), lost nothing. One further ahead means
      messages went missing, possibly changes of the sid's other books (`snapshot` returns False).
    - A reply (ok / unsubscribed) may take the next number, repeat the last one, carry none or count apart:
      a number next to or equal to the last is remembered as a possible predecessor of the next message,
      any other is not part of the sequence. A reply never reports a gap itself: a number lost before it
      shows at the next data message or snapshot.
    - Any other numbered message (delta, unknown type) must follow the last message or a reply's number.
    Blind spot, inherent in the open question: if replies repeat the last number, one message lost just
    before a reply cannot be told from a reply that took a number.
    """

    def __init__(self) -> None:
        self._prev: dict[int, set[int]] = {}  # sid -> numbers the next message may follow

    def data(self, sid: int, seq: int) -> bool:
        """A delta or other numbered message; False: something was lost before it."""
        prev = self._prev.get(sid)
        self._prev[sid] = {seq}
        return prev is None or seq - 1 in prev

    def snapshot(self, sid: int, seq: int) -> bool:
        """An orderbook_snapshot; False: messages were lost before it (the snapshot itself is good)."""
        prev = self._prev.get(sid)
        self._prev[sid] = {seq}
        return prev is None or seq <= max(prev) + 1

    def reply(self, sid: int, seq: int) -> None:
        prev = self._prev.get(sid)
        if prev is not None and (seq in prev or seq - 1 in prev):
            prev.add(seq)

    def forget(self, sid: int) -> None:
        self._prev.pop(sid, None)

    def clear(self) -> None:
        self._prev.clear()


@dataclass
class KalshiBook(Book):
    """YES bids and YES asks (implied from NO bids, on the YES scale), sizes in 1e-2 contracts (the Tick's unit).
    Not synced until a snapshot arrives, and again after a gap / terminal error. The tick size is unknown from the
    WS (per-market price_ranges): 0."""

    ticker: str
    awaiting: bool = False  # a snapshot was asked for (get_snapshot) and has not come yet
    sid: int | None = None
    seq: int | None = None  # position of the last change applied (tick_id)

    def _side_key(self, side: Side, price: int, yes_price: bool) -> tuple[dict[int, int], int]:
        if side == "yes":
            return self.bids, price
        return self.asks, (price if yes_price else ONE_DOLLAR - price)

    def apply_snapshot(self, snap: OrderbookSnapshot, *, yes_price: bool) -> None:
        self.bids.clear()
        self.asks.clear()
        sides: tuple[tuple[Side, tuple[Level, ...]], ...] = (("yes", snap.yes), ("no", snap.no))
        for side, levels in sides:
            for price, size in levels:
                book, key = self._side_key(side, price, yes_price)
                if size > 0:
                    total = book.get(key, 0) + size
                    if total > MAX_SIZE:  # repeated levels adding up past the bound: the Tick could not carry it
                        self.bids.clear()
                        self.asks.clear()
                        self.synced = False
                        raise BookError(f"{self.ticker}: level {key} of the snapshot adds up to {total} (size units), over {MAX_SIZE}")
                    book[key] = total
        self.synced, self.stale, self.awaiting = True, False, False
        self.sid, self.seq = snap.sid, snap.seq

    def apply_delta(self, delta: OrderbookDelta, *, yes_price: bool) -> None:
        book, key = self._side_key(delta.side, delta.price, yes_price)
        new = book.get(key, 0) + delta.delta
        if new < 0 or new > MAX_SIZE:
            raise BookError(f"{self.ticker}: level {key} would become {new} (size units)")
        if new == 0:
            book.pop(key, None)
        else:
            book[key] = new
        self.stale = False
        self.sid, self.seq = delta.sid, delta.seq
        if delta.ts_ms is not None:
            self.venue_ts_ms = delta.ts_ms


@dataclass
class ApplyResult:
    changed: list[str] = field(default_factory=list)  # tickers whose book or status changed
    resync: list[int] = field(default_factory=list)  # sids to re-snapshot (get_snapshot)
    resubscribe: list[str] = field(default_factory=list)  # tickers whose subscription ended (terminal error)
    gap: bool = False
    error: str | None = None  # bad input to count and log (unknown ticker, negative level, unknown type)
    subscribed: tuple[int, str] | None = None  # (sid, channel) of a `subscribed` reply
    reply: KalshiMessage | None = None  # ok / unsubscribed / error for command bookkeeping


class KalshiBooks(BookSet[KalshiBook]):
    """All books of one connection. `auto_create` makes a book on first snapshot (offline tool)."""

    def __init__(self, *, yes_price: bool, auto_create: bool = False) -> None:
        super().__init__(KalshiBook, auto_create=auto_create)
        self.yes_price = yes_price
        self.seqs = SeqCheck()

    def tickers_of(self, sid: int) -> list[str]:
        return [t for t, b in self.books.items() if b.sid == sid]

    def _invalidate(self, tickers: list[str], res: ApplyResult) -> None:
        for t in tickers:
            b = self.books[t]
            if b.synced:
                b.synced = False
                res.changed.append(t)

    def invalidate_all(self) -> list[str]:
        """Mark every book RESYNCING (reconnect); returns the tickers whose status changed. The next connection's
        sequences start afresh, and no snapshot asked for on this one will come."""
        changed = super().invalidate_all()
        for b in self.books.values():
            b.awaiting = False
        self.seqs.clear()
        return changed

    def invalidate(self, tickers: list[str]) -> list[str]:
        """Mark these books RESYNCING (their subscription is being replaced); returns the tickers whose status changed."""
        res = ApplyResult()
        self._invalidate([t for t in tickers if t in self.books], res)
        return res.changed

    def expect(self, tickers: list[str]) -> None:
        """Snapshots of these books were asked for: a sequence jump seen before they come does not need another
        request for them (what keeps a reading with hidden reply numbers from re-snapshotting in a loop)."""
        for t in tickers:
            if (b := self.books.get(t)) is not None:
                b.awaiting = True

    def _check_seq(self, msg: KalshiMessage, res: ApplyResult) -> None:
        sid = getattr(msg, "sid", None)
        seq = getattr(msg, "seq", None)
        if sid is None or seq is None:
            return
        if isinstance(msg, (Ok, Unsubscribed)):
            self.seqs.reply(sid, seq)
        elif isinstance(msg, OrderbookSnapshot):
            if not self.seqs.snapshot(sid, seq):
                # Lost messages may have changed the sid's other books; those already being re-snapshotted
                # (awaiting) will be right when their snapshot comes.
                others = [t for t, b in self.books.items()
                          if b.sid == sid and t != msg.market_ticker and b.synced and not b.awaiting]
                if others:
                    res.gap = True
                    res.resync.append(sid)
                    self._invalidate(others, res)
        elif not self.seqs.data(sid, seq):
            res.gap = True
            res.resync.append(sid)
            self._invalidate(self.tickers_of(sid), res)

    def _resnapshot(self, sid: int, exc: BookError, res: ApplyResult) -> None:
        """A change that cannot apply: every book of its subscription is re-snapshotted (the bad input is counted)."""
        res.error = str(exc)
        res.resync.append(sid)
        self._invalidate(self.tickers_of(sid), res)

    def apply(self, msg: KalshiMessage) -> ApplyResult:
        res = ApplyResult()
        self._check_seq(msg, res)
        if isinstance(msg, OrderbookSnapshot):
            book = self.books.get(msg.market_ticker)
            if book is None:
                if not self.auto_create:
                    res.error = f"snapshot for unknown ticker {msg.market_ticker}"
                    return res
                book = self.add(msg.market_ticker)
            try:
                book.apply_snapshot(msg, yes_price=self.yes_price)
            except BookError as exc:
                self._resnapshot(msg.sid, exc, res)
                if msg.market_ticker not in res.changed:
                    res.changed.append(msg.market_ticker)  # its RESYNCING tick
            else:
                res.changed.append(msg.market_ticker)
        elif isinstance(msg, OrderbookDelta):
            book = self.books.get(msg.market_ticker)
            if book is None:
                res.error = f"delta for unknown ticker {msg.market_ticker}"
            elif book.synced:  # deltas to a resyncing book are superseded by the coming snapshot
                try:
                    book.apply_delta(msg, yes_price=self.yes_price)
                except BookError as exc:
                    self._resnapshot(msg.sid, exc, res)
                else:
                    res.changed.append(msg.market_ticker)
        elif isinstance(msg, Subscribed):
            res.subscribed = (msg.sid, msg.channel)
        elif isinstance(msg, (Ok, Unsubscribed)):
            res.reply = msg
            if isinstance(msg, Unsubscribed):
                self.seqs.forget(msg.sid)
        elif isinstance(msg, Error):
            res.reply = msg
            if msg.terminal:
                sids = [msg.sid] if msg.sid is not None else list({b.sid for b in self.books.values() if b.sid is not None})
                for s in sids:
                    tickers = self.tickers_of(s)
                    self._invalidate(tickers, res)
                    res.resubscribe.extend(tickers)
                    self.seqs.forget(s)
            else:
                res.error = f"error {msg.code}: {msg.msg}"
        elif isinstance(msg, Other) and not msg.known:
            res.error = f"unknown message type {msg.type}"
        return res
