"""Inputs applied whole or not at all, at no cost while nothing faults.

``InputFold`` feeds inputs to ``step``. When one faults (``CoreFault``: core code raised, the state
is partly changed) while trading is not halted, the state is replaced by the state before that input
and the halt is derived on it. The state before comes from ``refold(faults, until)``: the shell folds
the journal's inputs up to ``until`` again, with the faults known so far, which are halted without
being stepped, so a refold never faults into another refold. Each such fault halts trading, so a
process pays one fold of the journal per halt at most.

An input that faults while trading is already halted derives nothing new (the halt is there) and
its partial changes stay: restoring each would cost a fold per input for a strategy that raises on
every bar. Trading stays halted until ``engine resume``; replay derives the same, since whether
trading was halted when an input faulted is itself the same in replay.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.core.state import CoreState
from engine.core.step import CoreFault, halt_on, step
from journal_schema.events import Event

Refold = Callable[[dict[int, Exception], int], CoreState]  # (known faults by seq, last seq) -> state


class InputFold:
    def __init__(self, state: CoreState, refold: Refold, faults: dict[int, Exception] | None = None) -> None:
        self.state = state
        self.faults: dict[int, Exception] = {} if faults is None else faults  # seq -> what core code raised
        self._refold = refold

    def apply(self, ev: Event, seq: int) -> list[Event]:
        """The events ``ev`` derives; ``self.state`` is changed in place or, after a fault, replaced."""
        known = self.faults.get(seq)
        if known is not None:  # a refold: this input faulted when it was journaled, and would again
            return self._halted(ev, seq, known)
        halted = self.state.halted is not None
        try:
            return step(self.state, ev, seq)
        except CoreFault as fault:
            if not halted:
                self.faults[seq] = fault.cause
                self.state = self._refold(dict(self.faults), seq - 1)
                return self._halted(ev, seq, fault.cause)
            return halt_on(self.state, ev, seq, fault.cause)  # already halted: nothing new to derive

    def _halted(self, ev: Event, seq: int, cause: Exception) -> list[Event]:
        self.state.inputs += 1
        return halt_on(self.state, ev, seq, cause)
