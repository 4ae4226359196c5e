"""Metrics text read back with prometheus_client's own parser: samples by name and labels, not bytes."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["families", "sample", "samples"]


def families(text: str) -> dict[str, str]:
    """Each family's name (as the parser gives it) and type."""
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample: (sample name, its labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample, None when there is none with exactly these labels."""
    return samples(text).get((name, frozenset(labels.items())))
