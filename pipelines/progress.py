"""How long-running stages report progress; the CLI installs a progress bar, Dagster runs keep the no-op."""

from __future__ import annotations

from typing import Protocol


class ProgressReporter(Protocol):
    def start(self, stage: str, total: int) -> None: ...
    def advance(self, label: str) -> None: ...
    def finish(self) -> None: ...


class SilentProgress:
    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, label: str) -> None:
        pass

    def finish(self) -> None:
        pass


_reporter: ProgressReporter = SilentProgress()


def set_reporter(reporter: ProgressReporter | None) -> None:
    global _reporter
    _reporter = reporter or SilentProgress()


def reporter() -> ProgressReporter:
    return _reporter
