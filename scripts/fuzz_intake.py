"""Mutation fuzzing of intake through its public entry points; prints the counts as JSON.

    .venv/bin/python scripts/fuzz_intake.py [--count 5000] [--seed 0]

Every input starts as a valid file from ``tests/intake_fixtures.py`` (JPEG grey and RGB;
PNG grey, 16-bit, RGBA, palette, animated; DICOM plain / multi-frame / MONOCHROME1 / RGB /
RLE / JPEG 2000 / JPEG / deflated; zips stored, deflated and zip64) and gets one to four
mutations: a bit flip, a cut, inserted or overwritten bytes, or a header field set to a
boundary value (PNG IHDR and acTL, JPEG SOF/SOS, DICOM rows, columns, bits, samples,
frames, transfer syntax and pixel data length, zip end record, index and local headers;
a PNG's chunk CRCs are then fixed, so that the change gets past them). Images go through
``case_from_files`` beside a good JPEG, or inside a zip beside seven good ones; zips
through ``case_from_zip``. Each input must become a view or get a reason on one line, and
the good files beside it must load; anything else is a ``violation``, and an exception
reaching the caller is a ``crash``.

Hypothesis draws the inputs (seeded, no example database, generation phase only). It does
not shrink: a crash is counted and its kind and mutations recorded, so one run reports
every failure and its time stays bounded; the recorded mutations (at most four) are
already a small reproducer. ``tests/test_fuzz_intake.py`` runs :func:`run_fuzz` in
``make test``.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import struct
import sys
import time
import tracemalloc
import warnings
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hseed
from hypothesis import strategies as st
from intake_fixtures import (
    FUZZ_VIEW,
    Sample,
    companion,
    corpus,
    good_seven,
    zip_of,
)

from core.case import Case
from core.intake import case_from_files, case_from_zip

__all__ = ["main", "run_fuzz"]

log = logging.getLogger("fuzz_intake")

_VALUES = (0, 1, 2, 3, 4, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 64, 99, 127, 128, 255, 256,
           1000, 2047, 2048, 2049, 4095, 4096, 4097, 8192, 8193, 20000, 32767, 32768, 65535,
           65536, 2**20, 2**24, 2**31 - 1, 2**31, 2**32 - 1)  # fmt: skip
_POS = st.integers(0, 2**32 - 1)
_OPS = st.one_of(
    st.tuples(st.just("flip"), _POS, st.integers(0, 7)),
    st.tuples(st.just("cut"), _POS),
    st.tuples(st.just("insert"), _POS, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("overwrite"), _POS, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("field"), _POS, st.sampled_from(_VALUES)),
)
_UIDS = (b"1.2.840.10008.1.2.1.99", b"1.2.840.10008.1.2", b"1.2.840.10008.1.2.2",
         b"1.2.840.10008.1.2.4.90", b"1.2.840.10008.1.2.5", b"1.2.840.10008.1.2.4.50")  # fmt: skip
_EXAMPLES = 10
_LINE = 400


def _set_field(data: bytearray, field: tuple[int, int, str], value: int) -> None:
    at, width, kind = field
    if kind == "text":
        text = str(value).encode()
    elif kind == "uid":
        text = _UIDS[value % len(_UIDS)]
    else:
        text = struct.pack(kind, value & ((1 << (8 * width)) - 1))
    data[at : at + width] = text[:width].ljust(width, b"\0" if kind == "uid" else b" ")


def _fix_png_crcs(data: bytearray) -> None:
    """Recompute chunk CRCs after a field change, so the change reaches the decoder."""
    at = 8
    while at + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, at)
        end = at + 8 + length
        if end + 4 > len(data):
            return
        data[end : end + 4] = struct.pack(">I", zlib.crc32(data[at + 4 : end]))
        at = end + 4


def mutate(sample: Sample, ops: list[tuple]) -> bytes:
    """``sample``'s bytes after ``ops``; positions wrap around the current length."""
    data = bytearray(sample.data)
    for op in ops:
        at = op[1] % max(len(data), 1)
        if op[0] == "flip" and data:
            data[at] ^= 1 << op[2]
        elif op[0] == "cut":
            del data[at:]
        elif op[0] == "insert":
            data[at:at] = op[2]
        elif op[0] == "overwrite":
            data[at : at + len(op[2])] = op[2]
        elif op[0] == "field" and sample.fields:
            field = sample.fields[op[1] % len(sample.fields)]
            if field[0] + field[1] <= len(data):
                _set_field(data, field, op[2])
                if sample.fmt == "png":
                    _fix_png_crcs(data)
    return bytes(data)


def _one_line(case: Case) -> bool:
    return all("\n" not in p.message and len(p.message) <= _LINE for p in case.problems)


def _intake(sample: Sample, data: bytes, good: list[tuple[str, bytes]]) -> str:
    """Run one input through intake: ``"used"``, ``"reported"`` or ``"violation"``.

    ``good`` are the files uploaded beside it: the companion, or the seven zipped views.
    """
    if sample.fmt == "zip":
        case = case_from_zip(data, zip_name="fuzz.zip")
        said = bool(case.views) or any(p.kind != "missing" for p in case.problems)
        return ("used" if case.views else "reported") if said and _one_line(case) else "violation"
    if sample.zipped:
        case = case_from_zip(zip_of([*good, (sample.name, data)]), zip_name="fuzz.zip")
    else:
        case = case_from_files([(sample.name, data), *good])
    kept = len(case.views.keys() - {FUZZ_VIEW}) == len(good)
    used = FUZZ_VIEW in case.views and case.views[FUZZ_VIEW].source.name == sample.name
    reported = any(p.file == sample.name for p in case.problems)
    if not kept or used == reported or not _one_line(case):
        return "violation"
    return "used" if used else "reported"


@contextmanager
def _quiet() -> Iterator[None]:
    """Thousands of intake warnings and pydicom/PIL warnings would only fill the log."""
    loggers = [logging.getLogger(name) for name in ("core", "pydicom", "PIL")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def run_fuzz(count: int, seed: int = 0) -> dict[str, object]:
    """Fuzz ``count`` inputs; returns the counts, peak memory and the first failures.

    ``peak_traced_mib`` is the largest tracemalloc peak of one intake call (Python and
    numpy allocations; tracing runs around intake only, since tracing hypothesis as well
    costs six-fold); ``rss_growth_mib`` is how far the process's peak RSS rose in the run.
    """
    if tracemalloc.is_tracing():
        raise RuntimeError("run_fuzz traces memory itself; stop tracemalloc first")
    samples = corpus()
    kinds = sorted(samples)
    beside, seven = [companion()], good_seven()
    counts: Counter[str] = Counter()
    examples: list[str] = []
    peak = [0]

    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @hseed(seed)
    @given(st.sampled_from(kinds), st.lists(_OPS, min_size=1, max_size=4))
    def one(kind: str, ops: list[tuple]) -> None:
        sample = samples[kind]
        data = mutate(sample, ops)
        counts["tried"] += 1
        counts[f"kind:{kind}"] += 1
        tracemalloc.start()
        try:
            outcome = _intake(sample, data, seven if sample.zipped else beside)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:  # noqa: BLE001 - any escape is what the fuzzer counts,
            outcome = "crashed"  # a Rust decoder's panic (a BaseException) included
            if len(examples) < _EXAMPLES:
                examples.append(f"{kind} {ops!r}: {type(err).__name__}: {err}"[:500])
        finally:
            peak[0] = max(peak[0], tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        if outcome == "violation" and len(examples) < _EXAMPLES:
            examples.append(f"{kind} {ops!r}: violation")
        counts[outcome] += 1

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with _quiet():
        one()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result: dict[str, object] = {
        "tried": counts["tried"],
        "used": counts["used"],
        "reported": counts["reported"],
        "crashed": counts["crashed"],
        "violations": counts["violation"],
        "peak_traced_mib": round(peak[0] / 2**20, 1),
        "rss_growth_mib": round((rss - rss0) / 1024, 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "kinds": {k[5:]: v for k, v in sorted(counts.items()) if k.startswith("kind:")},
        "examples": examples,
    }
    log.info("intake fuzz: %s", json.dumps({k: v for k, v in result.items() if k != "kinds"}))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="inputs to try")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    result = run_fuzz(args.count, args.seed)
    print(json.dumps(result, indent=2))
    return 1 if result["crashed"] or result["violations"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
