"""Held-out splits and the fingerprint of a training channel."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from collections.abc import Hashable, Sequence


def split_indices(
    n: int, fraction: float, seed: int, groups: Sequence[Hashable] | None = None
) -> tuple[list[int], list[int]]:
    """(train, eval) indices. With `groups` (the labels of a classifier) the split is stratified:
    each group gives about `fraction` of its examples, and keeps at least one for training.
    Without enough examples for both sides the eval side is empty."""
    if fraction <= 0 or n < 2:
        return list(range(n)), []
    rng = random.Random(seed)
    if groups is None:
        order = list(range(n))
        rng.shuffle(order)
        n_eval = min(n - 1, max(1, round(n * fraction)))
        return sorted(order[n_eval:]), sorted(order[:n_eval])
    members: dict[Hashable, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    train: list[int] = []
    held: list[int] = []
    for group in sorted(members, key=str):
        indices = members[group]
        rng.shuffle(indices)
        n_eval = min(len(indices) - 1, round(len(indices) * fraction))
        held.extend(indices[:n_eval])
        train.extend(indices[n_eval:])
    return sorted(train), sorted(held)


def fingerprint(files: Sequence[Path]) -> str:
    """A hash of the channel's files, so a checkpoint is resumed only on the data it was made from."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
