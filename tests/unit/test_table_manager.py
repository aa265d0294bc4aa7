"""processors.table_manager.PromptTableManager: Faust's table start-up without its 1 s sleep."""

from __future__ import annotations

import asyncio
import inspect

from faust.tables import TableManager

from processors.table_manager import PromptTableManager


def _statements(fn: object) -> list[str]:
    lines = [line.strip() for line in inspect.getsource(fn).splitlines()[1:]]  # type: ignore[arg-type]
    return [line for line in lines if line.startswith(("await ", "if "))]


def test_faust_on_start_is_still_a_sleep_then_what_the_override_does() -> None:
    # The override is Faust's on_start minus the sleep: a Faust upgrade that changes it fails here.
    assert _statements(TableManager.on_start) == ["await self.sleep(1.0)", *_statements(PromptTableManager.on_start)]
    assert _statements(PromptTableManager.on_start) == ["if not self.should_stop:", "await self._update_channels()",
                                                        "await self.recovery.start()"]


def test_the_processor_app_registers_its_tables_without_sleeping() -> None:
    from processors.app import create_app

    tables = create_app().tables
    assert isinstance(tables, PromptTableManager)
    calls: list[str] = []

    async def forbidden_sleep(*_: object) -> None:
        raise AssertionError("slept")

    async def record(name: str) -> None:
        calls.append(name)

    tables.sleep = forbidden_sleep  # type: ignore[method-assign, assignment]
    tables._update_channels = lambda: record("channels")  # type: ignore[method-assign]
    tables._recovery = type("R", (), {"start": staticmethod(lambda: record("recovery"))})()
    asyncio.run(tables.on_start())
    assert calls == ["channels", "recovery"]
