"""Model-free cohort fixtures, re-exported from :mod:`core.cohort.synthetic` (the benchmark
uses the same ones): a ``bundle.json`` without weights, a cohort folder, a cached table."""

from __future__ import annotations

from core.cohort.synthetic import FIXTURE_THRESHOLDS as BUNDLE_THRESHOLDS
from core.cohort.synthetic import write_bundle_json, write_cohort
from core.cohort.synthetic import write_fixture as populate

__all__ = ["BUNDLE_THRESHOLDS", "write_bundle_json", "write_cohort", "populate"]
