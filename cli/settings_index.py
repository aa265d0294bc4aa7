"""Every package's settings module: what `arb config` shows and docs/settings.md documents."""

from __future__ import annotations

from collections.abc import Iterator

from core.config import SettingDoc, sections, settings_docs

SECTION_MODULES = (
    "core.settings",
    "venues.kalshi.settings",
    "venues.polymarket.settings",
    "simulators.settings",
    "producers.settings",
    "producers.discovery.settings",
    "processors.settings",
    "processors.faust_settings",
    "executor.settings",
    "positions.settings",
    "core.notify.settings",
)


def all_sections() -> Iterator[type]:
    return sections(SECTION_MODULES)


def all_settings() -> list[SettingDoc]:
    """Every setting of every section, in declaration order."""
    return settings_docs(SECTION_MODULES)
