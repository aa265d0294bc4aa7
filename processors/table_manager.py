"""Faust's TableManager without its start-up sleep.

`TableManager.on_start` sleeps 1 s before it registers the tables' changelog channels, so that tables
declared after the app has started are included. Every table of this app is declared by `ProcessorWorker()`,
before the worker starts: the sleep only delayed every start and every restart after a crash by 1 s
(seen in the worker's log: "Waiting for tables to be registered..." then the table starting 1.0 s later).
"""

from __future__ import annotations

from faust.tables import TableManager

from processors.faust_meta import ServiceMeta


class PromptTableManager(TableManager, metaclass=ServiceMeta):
    async def on_start(self) -> None:
        # TableManager.on_start minus `await self.sleep(1.0)` (faust-streaming 0.15.3).
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
