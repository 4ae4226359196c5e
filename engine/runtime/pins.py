"""What an admin pin holds back: one answer for `/v1/status` and for `validate` on a rules folder.

The pins live in the service's decision log (a layer above the engine), so `validate`
reads them through the `attendance_policy.pin_sources` entry-point group: the service
registers a reader, and the engine alone (no service installed) simply has none.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points

from engine.policy.model import Policy

__all__ = ["PIN_SOURCES", "HeldBack", "PinnedTo", "held_back", "pin_sources", "scheduled_among"]

PIN_SOURCES = "attendance_policy.pin_sources"


@dataclass(frozen=True)
class PinnedTo:
    """A pin as a pin source reports it: the version, who set it and when (no facts, no PHI)."""

    version: str
    pinned_by: str
    pinned_at: str


@dataclass(frozen=True)
class HeldBack:
    """A pin to `pinned` while the dates alone would serve the higher `scheduled`."""

    policy_id: str
    pinned: str
    scheduled: str
    effective_from: _dt.date

    def message(self) -> str:
        return (f"the pin to {self.pinned} holds back {self.scheduled}, in effect since {self.effective_from}: "
                "unpin when the new version may serve")


def scheduled_among(versions: Sequence[Policy], today: _dt.date) -> Policy | None:
    """The highest version whose `effective_from` is not in the future, or None."""
    live = [p for p in versions if p.effective_from <= today]
    return max(live, key=lambda p: p.version_tuple) if live else None


def held_back(versions: Sequence[Policy], pinned_version: str | None, today: _dt.date) -> HeldBack | None:
    """The version a pin keeps from serving although its date has come; None when it holds nothing back."""
    scheduled = scheduled_among(versions, today)
    pinned = next((p for p in versions if p.version == pinned_version), None)
    if scheduled is None or pinned is None or scheduled.version_tuple <= pinned.version_tuple:
        return None
    return HeldBack(scheduled.id, pinned.version, scheduled.version, scheduled.effective_from)


PinSource = Callable[[str | None], Mapping[str, PinnedTo]]


def pin_sources() -> list[tuple[str, PinSource]]:
    """Every registered reader of pins, by name (the service registers one over its decision log)."""
    return [(ep.name, ep.load()) for ep in sorted(entry_points(group=PIN_SOURCES), key=lambda ep: ep.name)]
