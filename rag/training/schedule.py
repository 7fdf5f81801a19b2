"""What the two training loops share: the learning-rate shape and endless shuffled batches."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def warmup_cosine(warmup_steps: int, steps: int) -> Callable[[int], float]:
    """Learning-rate factor per step: linear warm-up, then a cosine decay to 0 at ``steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        rest = (step - warmup_steps) / max(1, steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, rest)))

    return factor


def cycling_batches(items: Sequence[T], size: int, rng: random.Random) -> Iterator[list[T]]:
    """Batches of ``size`` items in a shuffled order, reshuffled each time the items run out."""
    order = list(range(len(items)))
    rng.shuffle(order)
    cursor = 0
    while True:
        batch: list[T] = []
        while len(batch) < size:
            if cursor >= len(order):
                rng.shuffle(order)
                cursor = 0
            batch.append(items[order[cursor]])
            cursor += 1
        yield batch
