"""What a source kind's harvest function is given: the registry, the fetcher, state and a parser."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pipelines.config import SourceRegistry
from pipelines.net.http import Fetcher
from pipelines.parse import ParsedDocument, ParseOptions
from pipelines.outcomes import FetchState

ParseFn = Callable[[bytes, str, "str | None", ParseOptions], Awaitable[ParsedDocument]]


@dataclass
class HarvestContext:
    registry: SourceRegistry
    fetcher: Fetcher
    state: FetchState
    parse: ParseFn   # runs pipelines.parse.parse_document in a worker process
    # What the sources of one kind share during a run (GitHub's one rate-limit budget), by name.
    shared: dict[str, Any] = field(default_factory=dict)
    # Runs a picklable function in the parse worker processes (page metadata, say); None: a thread.
    run_in_workers: Callable[..., Awaitable[Any]] | None = None

    async def offload(self, fn: Callable[..., Any], *args: Any) -> Any:
        """CPU-bound work off the event loop: on the worker processes when there are some."""
        if self.run_in_workers is not None:
            return await self.run_in_workers(fn, *args)
        return await asyncio.to_thread(fn, *args)
