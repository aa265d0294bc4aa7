"""The executor's view of one partition of `orders` and `outcomes`, folded by key.

Idempotent: applying a record twice changes nothing. Aborted transactions stay hidden (read_committed),
but the fold does not rely on every record being in the log once: a write retried by the application
after an attempt that had landed, or a window replayed twice, adds copies, and keys are deterministic,
so a copy folds onto the first one. The FIRST terminal Outcome of a signal wins; PENDING is not terminal. The first result of an
order wins over later ones, except that an ACK (resting) is superseded by a final result.
"""

from __future__ import annotations

from dataclasses import replace

from schemas.records import OrderEvent, Outcome, OutcomeState

TERMINAL: frozenset[OutcomeState] = frozenset({"FILLED", "PARTIAL_BALANCED", "COMPLETED", "UNWOUND", "NOT_FILLED", "EXPIRED", "REJECTED", "UNKNOWN"})


class Ledger:
    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}
        self.intents: dict[str, OrderEvent] = {}
        self.results: dict[str, OrderEvent] = {}
        self.by_signal: dict[str, list[str]] = {}
        # signal -> (orders end, outcomes end) known before its first INTENT: its records all lie after (checkpoint.py)
        self.marks: dict[str, tuple[int, int]] = {}

    def apply(self, rec: OrderEvent | Outcome) -> None:
        if isinstance(rec, Outcome):
            sid = rec.signal_id
            current = self.outcomes.get(sid)
            if current is None or (current.state not in TERMINAL and rec.state in TERMINAL):
                self.outcomes[sid] = rec
            if rec.state in TERMINAL:
                self.marks.pop(sid, None)
            return
        coid = rec.client_order_id
        if rec.type == "INTENT":
            if coid not in self.intents:
                self.intents[coid] = rec
                self.by_signal.setdefault(rec.signal_id, []).append(coid)
        else:
            result = self.results.get(coid)
            if result is None or (result.type == "ACK" and rec.type != "ACK"):
                self.results[coid] = rec
            if coid not in self.intents:
                # An INTENT and its result share the key: compaction of `orders` keeps only the result. The
                # result carries every field of its INTENT, so the order is known from it.
                self.intents[coid] = replace(rec, type="INTENT")
                self.by_signal.setdefault(rec.signal_id, []).append(coid)

    def mark(self, signal_id: str, ends: tuple[int, int]) -> None:
        """Remember where the signal's records start (the first mark wins), until it has a terminal outcome."""
        if not self.has_terminal_outcome(signal_id):
            self.marks.setdefault(signal_id, ends)

    def checkpoint(self, ends: tuple[int, int], finishing: str | None = None) -> tuple[int, int]:
        """(orders, outcomes) positions before which every signal is resolved: the marks of the signals still
        open (but `finishing`, whose terminal outcome commits now), else the known ends."""
        open_marks = [m for sid, m in self.marks.items() if sid != finishing and not self.has_terminal_outcome(sid)]
        if not open_marks:
            return ends
        return min(m[0] for m in open_marks), min(m[1] for m in open_marks)

    def prune(self, decided_before_us: int) -> int:
        """Forget signals decided (terminal Outcome) before this time: the same history a recovery would not read
        (the dedup horizon, checkpoint.py), so a long-running worker's memory does not grow with it. Returns how
        many signals were forgotten."""
        old = [sid for sid, rec in self.outcomes.items() if rec.state in TERMINAL and rec.ts < decided_before_us]
        for sid in old:
            del self.outcomes[sid]
            for coid in self.by_signal.pop(sid, []):
                self.intents.pop(coid, None)
                self.results.pop(coid, None)
        return len(old)

    def has_terminal_outcome(self, signal_id: str) -> bool:
        rec = self.outcomes.get(signal_id)
        return rec is not None and rec.state in TERMINAL

    def has_intents(self, signal_id: str) -> bool:
        return signal_id in self.by_signal

    def result_for(self, client_order_id: str) -> OrderEvent | None:
        return self.results.get(client_order_id)

    def possibly_sent(self) -> list[OrderEvent]:
        """INTENTs with no result: the order may or may not exist at the venue."""
        return [ev for coid, ev in self.intents.items() if coid not in self.results]

    def unfinished_signals(self) -> dict[str, list[OrderEvent]]:
        """Signals with intents but no terminal outcome -> their INTENTs, by (step, leg)."""
        out = {}
        for sid, coids in self.by_signal.items():
            if not self.has_terminal_outcome(sid):
                out[sid] = sorted((self.intents[c] for c in coids), key=_step_and_leg)
        return out


def _step_and_leg(ev: OrderEvent) -> tuple[int, int]:
    return ev.step, ev.leg_index
