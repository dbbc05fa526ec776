"""How long to wait before trying again, while the homeserver or the database is out of
reach: doubling from `base` up to `cap`, with some jitter so that instances do not retry in
step."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, base: float = 1.0, cap: float = 30.0):
        self.base, self.cap, self.failures = base, cap, 0

    def next(self) -> float:
        self.failures += 1
        return min(self.cap, self.base * 2 ** (self.failures - 1)) * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.failures = 0
