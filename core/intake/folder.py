"""A K-Ium folder: ``train.csv`` (optional) plus ``{Index}{View}.jpg`` images, read lazily.

Only files directly in the folder are considered (the K-Ium layout is flat, and walking a
user-chosen tree could merge two cohorts). Image names follow
:mod:`core.intake.naming` and must carry the index: ``1428LI-A.jpg``, ``0012LI-A.jpg``
(index 12). Without ``train.csv`` the folder is an unlabelled test folder and the cases
come from the file names alone. Listing reads no pixels; :meth:`KiumFolder.load_case`
decodes one patient when asked.

A folder that cannot be used at all (missing, or a ``train.csv`` that breaks the schema)
raises :class:`~core.intake.errors.BadFile`; anything smaller is an :class:`IntakeProblem`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core import limits
from core.case import Case, IntakeProblem
from core.intake.assemble import case_from_files
from core.intake.errors import BadFile, IntakeError, TooLarge, record
from core.intake.frames import DEFAULT_FRAME_RULE, FrameRule
from core.intake.naming import is_candidate, parse_name, short_name
from core.schema import TRAIN_COLUMNS, SchemaError, validate_train_table

__all__ = ["KiumFolder", "read_kium_folder"]

_EXAMPLES = 5


@dataclass
class KiumFolder:
    """The listing of a K-Ium folder; pixels are read per case by :meth:`load_case`."""

    root: Path
    files: dict[int, dict[str, Path]]  # index -> view -> image path
    labels: dict[int, dict[str, int]] | None  # index -> Aneurysm + 21 locations; None: no train.csv
    problems: list[IntakeProblem] = field(default_factory=list)  # folder-level, for a summary
    index_problems: dict[int, list[IntakeProblem]] = field(default_factory=dict)

    @property
    def indices(self) -> list[int]:
        """Patient indices that have at least one image, ascending."""
        return sorted(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def load_case(self, index: int | str, *, frame_rule: FrameRule = DEFAULT_FRAME_RULE) -> Case:
        """Decode one patient's views (``"0012"`` and ``12`` are the same index)."""
        idx = int(index)
        if idx not in self.files:
            raise KeyError(f"no images for Index {idx} in folder {self.root.name}")
        problems = list(self.index_problems.get(idx, ()))
        files: list[tuple[str, bytes]] = []
        for path in self.files[idx].values():
            try:
                size = path.stat().st_size
                if size > limits.MAX_FILE_BYTES:
                    raise TooLarge(
                        path.name, f"the file is {size:,} bytes; at most {limits.MAX_FILE_BYTES:,}"
                    )
                files.append((path.name, path.read_bytes()))
            except IntakeError as err:
                record(problems, err.problem())
            except OSError as err:
                record(
                    problems, BadFile(path.name, f"could not be read ({err.strerror})").problem()
                )
        case = case_from_files(files, case_id=str(idx), frame_rule=frame_rule)
        case.problems[:0] = problems
        case.labels = None if self.labels is None else self.labels.get(idx)
        return case


def _read_labels(csv: Path) -> dict[int, dict[str, int]]:
    if csv.stat().st_size > limits.MAX_FILE_BYTES:
        raise TooLarge(csv.name, "the table is larger than the per-file limit")
    try:
        table = validate_train_table(pd.read_csv(csv))
    except SchemaError as err:
        raise BadFile(csv.name, str(err)) from err
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise BadFile(csv.name, f"not a readable CSV table ({type(err).__name__})") from err
    if not pd.api.types.is_integer_dtype(table["Index"]):
        raise BadFile(csv.name, "the Index column must hold whole numbers")
    cols = list(TRAIN_COLUMNS[1:])
    return {
        int(i): dict(zip(cols, map(int, row), strict=True))
        for i, row in zip(table["Index"], table[cols].to_numpy(), strict=True)
    }


def _summarise(indices: set[int]) -> str:
    """``"3 (e.g. 4, 9, 12)"``: a count with the first few, so one problem covers many."""
    return f"{len(indices)} (e.g. {', '.join(map(str, sorted(indices)[:_EXAMPLES]))})"


def read_kium_folder(path: str | Path) -> KiumFolder:
    """List a K-Ium folder; raises :class:`BadFile` if it is missing or its table is unusable."""
    root = Path(path)
    if not root.is_dir():
        raise BadFile(root.name or str(root), "no such folder")
    try:
        entries = sorted((p for p in root.iterdir() if p.is_file()), key=lambda q: q.name)
        csv = next((p for p in entries if p.name.lower() == "train.csv"), None)
        labels = _read_labels(csv) if csv else None
    except OSError as err:
        raise BadFile(root.name, f"the folder cannot be read ({err.strerror})") from err
    folder = KiumFolder(root, {}, labels)
    for p in entries:
        if p.name.startswith(".") or not is_candidate(p.name):
            continue
        parsed = parse_name(p.name)
        if parsed.view is None or parsed.index is None:
            msg = (f"{short_name(p.name)}: not a K-Ium image name {{Index}}{{View}}, "
                   "e.g. 1428LI-A.jpg; skipped")  # fmt: skip
            record(folder.problems, IntakeProblem(p.name, "unrecognised_name", msg))
            continue
        views = folder.files.setdefault(parsed.index, {})
        if parsed.view in views:
            msg = (f"{short_name(p.name)}: a second file for Index {parsed.index} {parsed.view} "
                   f"({short_name(views[parsed.view].name)} is used); "
                   "this one was ignored")  # fmt: skip
            problem = IntakeProblem(p.name, "duplicate", msg)
            record(folder.problems, problem)
            folder.index_problems.setdefault(parsed.index, []).append(problem)
            continue
        views[parsed.view] = p
    if labels is not None:
        unlabelled = set(folder.files) - set(labels)
        imageless = set(labels) - set(folder.files)
        if unlabelled:
            msg = f"train.csv: no row for indices with images: {_summarise(unlabelled)}; "
            msg += "they load unlabelled"
            record(folder.problems, IntakeProblem("train.csv", "missing", msg))
        if imageless:
            msg = f"train.csv: labelled indices without images: {_summarise(imageless)}; skipped"
            record(folder.problems, IntakeProblem("train.csv", "missing", msg))
    return folder
