"""Shared helpers for benchmarks: interleaved rounds, medians, pairwise ratios."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median_range(values: Sequence[float]) -> str:
    """'median (min–max)' with three significant figures."""
    return f"{statistics.median(values):.3g} ({min(values):.3g}–{max(values):.3g})"


def pairwise_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Ratio taken round by round, so drift of the machine within a run cancels."""
    return [n / d for n, d in zip(numerators, denominators, strict=True) if d]
