"""Run a producer of batches in a background thread, a few batches ahead of its consumer.

Reading and validating (Arrow, DuckDB) and writing (delta-rs) all release the GIL, so on two
cores the next batch is prepared while the current one is encoded to Parquet.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """The items of `source`, produced in a thread at most `depth` ahead; its errors re-raised."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        """Put `item` in a slot, unless the consumer has stopped taking them (then a plain put
        would wait for ever, and so would the consumer's join); whether it was put."""
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        # Once this thread has ended and the consumer has closed `prefetched`, nothing holds
        # `source`: CPython frees it at once, which closes a generator source, and with it any
        # stages it runs itself (their `closing` blocks).
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as err:  # handed to the consumer, raised there
            offer(err)

    worker = threading.Thread(target=produce, name="ingest-prefetch", daemon=True)
    worker.start()
    try:
        while (item := slots.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
