"""A labelled K-Ium folder as training data: the four tables and a once-only image cache.

Every image is decoded (through intake, as the app decodes it), cleaned (margin crop and
text fill), given its model's input transform and resized exactly once, into ``uint8``
arrays held in memory: one array per distinct model input (size, stage-1 transform or
not). Epochs then cost only the networks. Decoding runs in ``cache_workers`` processes;
under DDP each rank decodes its share and the shares are exchanged.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.case import Box
from core.intake.decode import decode_image
from core.intake.folder import read_kium_folder
from core.models.aneurysm_models import Role
from core.models.registry import InputSpec, ModelSpec
from core.preprocess.pipeline import preprocess_image
from core.preprocess.transforms import resize_square, stage1_input
from core.sacs import Sac, read_sacs
from core.schema import ORIGINAL_GROUPS, CirculationGroups, training_tables, validate_train_table
from core.training.datasets import ArrayDataset
from core.training.distributed import DistInfo, gather_objects
from core.training.patches import PatchDataset, model_targets
from core.training.profiles import Augment, Flips

__all__ = [
    "InputKey",
    "input_key",
    "model_array",
    "TrainingData",
    "load_training_data",
    "fingerprint",
]

log = logging.getLogger(__name__)

#: ``(height, width, stage1_transform)``: models sharing it share one cached array.
InputKey = tuple[int, int, bool]


def input_key(spec: InputSpec) -> InputKey:
    return (int(spec.size[0]), int(spec.size[1]), bool(spec.stage1_transform))


def model_array(clean: np.ndarray, key: InputKey) -> np.ndarray:
    """A cleaned crop as one model sees it before normalisation: ``uint8`` at model size.

    The stage-1 transform runs at full resolution, before resizing, as in the original.
    """
    h, w, stage1 = key
    if h != w:
        raise ValueError(f"models take square inputs; got {h}x{w}")
    return resize_square(stage1_input(clean) if stage1 else clean, h)


def _prepare(path: Path, keys: tuple[InputKey, ...]) -> tuple[list[np.ndarray], Box]:
    """Worker: decode, clean and resize one file for every model input; and its crop."""
    gray, _ = decode_image(path.name, path.read_bytes())
    clean, record = preprocess_image(gray)
    return [model_array(clean, k) for k in keys], record.crop


def _prepare_all(
    paths: list[Path], keys: tuple[InputKey, ...], workers: int
) -> list[tuple[list[np.ndarray], Box]]:
    if workers <= 1 or len(paths) < 2:
        return [_prepare(p, keys) for p in paths]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_prepare, paths, [keys] * len(paths), chunksize=8))


def fingerprint(root: Path, paths: Iterable[Path]) -> dict[str, object]:
    """What the bundle was trained on: SHA-256 of ``train.csv`` and of the image names and
    byte sizes (cheap, yet any added, removed or re-encoded image changes it)."""
    listing = hashlib.sha256()
    files = sorted(paths, key=lambda p: p.name)
    for p in files:
        listing.update(f"{p.name}\t{p.stat().st_size}\n".encode())
    return {
        "folder": root.name,
        "train_csv_sha256": hashlib.sha256((root / "train.csv").read_bytes()).hexdigest(),
        "images_sha256": listing.hexdigest(),
        "n_images": len(files),
    }


@dataclass
class TrainingData:
    """The cohort's labels, the four training tables and the cached model inputs.

    ``crops`` are the preprocessing crops (original pixels) the cached arrays were cut
    from; ``sacs`` the aneurysm positions of a synthetic cohort (None for real data).
    """

    root: Path
    train: pd.DataFrame  # train.csv, patients with all eight views
    tables: dict[str, pd.DataFrame]  # core.schema.training_tables
    rows: dict[tuple[int, str], int]  # (Index, View) -> row of every cached array
    arrays: dict[InputKey, np.ndarray]  # (N, H, W) uint8
    fingerprint: dict[str, object]
    crops: dict[tuple[int, str], Box]
    sacs: dict[tuple[int, str], tuple[Sac, ...]] | None = None

    def role_table(self, role: Role, indices: Iterable[int]) -> tuple[pd.DataFrame, list[str]]:
        """The role's table restricted to ``indices``, and its label columns.

        Stage 1 learns both circulations with one model, so its table is the two binary
        tables stacked; the location models take their circulation's table.
        """
        wanted = set(indices)
        if role == "stage1":
            table = pd.concat([self.tables["binary_anterior"], self.tables["binary_posterior"]])
            labels = ["label"]
        else:
            table = self.tables[role]
            labels = [c for c in table.columns if c not in ("Index", "View", "Side")]
        return table[table["Index"].isin(wanted)].reset_index(drop=True), labels

    def dataset(
        self, spec: ModelSpec, indices: Iterable[int], augment: Augment | None = None
    ) -> ArrayDataset:
        """An :class:`ArrayDataset` of ``spec``'s role over the given patients."""
        table, labels = self.role_table(spec.role, indices)
        pos = [self.rows[(i, v)] for i, v in zip(table["Index"], table["View"])]
        images = self.arrays[input_key(spec.input)][pos]
        return ArrayDataset(images, table[labels].to_numpy(np.float32), spec.input, augment)

    def patch_dataset(
        self,
        spec: ModelSpec,
        indices: Iterable[int],
        *,
        patch: int,
        grid: int,
        flips: Flips,
        augment: Augment | None = None,
    ) -> PatchDataset:
        """Crops of ``spec``'s role over the given patients (needs ``sacs``)."""
        if self.sacs is None:
            raise ValueError(f"{self.root}: no truth.json, so no localised training")
        table, labels = self.role_table(spec.role, indices)
        items = list(zip(table["Index"].astype(int), table["View"]))
        images = self.arrays[input_key(spec.input)][[self.rows[it] for it in items]]
        targets = [model_targets(self.sacs[it], self.crops[it], spec) for it in items]
        return PatchDataset(
            images, table[labels].to_numpy(np.float32), targets, spec.input,
            patch=patch, grid=grid, flips=flips, augment=augment,
        )  # fmt: skip


def load_training_data(
    root: str | Path,
    specs: Mapping[Role, ModelSpec],
    *,
    info: DistInfo,
    workers: int = 2,
    groups: CirculationGroups = ORIGINAL_GROUPS,
) -> TrainingData:
    """Read ``train.csv``, list the images and build the cache for every spec's input.

    Patients without all eight views are left out of training (logged): the tables assume
    four views per circulation, as the original pipeline did.
    """
    folder = read_kium_folder(root)
    if folder.labels is None:
        raise FileNotFoundError(f"{folder.root}: no train.csv, so nothing to train on")
    train = validate_train_table(pd.read_csv(folder.root / "train.csv"))
    complete = [i for i in train["Index"] if len(folder.files.get(int(i), {})) == 8]
    if len(complete) < len(train):
        log.warning(
            "%d patients lack some of the 8 views and are left out", len(train) - len(complete)
        )
    train = train[train["Index"].isin(complete)].reset_index(drop=True)
    items = [(int(i), v) for i in train["Index"] for v in sorted(folder.files[int(i)])]
    paths = [folder.files[i][v] for i, v in items]
    keys = tuple(dict.fromkeys(input_key(s.input) for s in specs.values()))
    mine = list(range(info.rank, len(paths), info.world))
    prepared = dict(zip(mine, _prepare_all([paths[j] for j in mine], keys, workers)))
    if info.active:  # every rank needs every image: each one samples the whole cohort
        for part in gather_objects(info, prepared):
            prepared.update(part)
    arrays = {
        k: np.stack([prepared[j][0][n] for j in range(len(paths))]) for n, k in enumerate(keys)
    }
    sacs = read_sacs(folder.root)
    log.info(
        "cached %d images for inputs %s; aneurysm positions: %s",
        len(paths), keys, "none (view labels only)" if sacs is None else "truth.json",
    )  # fmt: skip
    return TrainingData(
        root=folder.root,
        train=train,
        tables=training_tables(train, groups),
        rows={item: j for j, item in enumerate(items)},
        arrays=arrays,
        fingerprint=fingerprint(folder.root, paths),
        crops={item: prepared[j][1] for j, item in enumerate(items)},
        sacs=None if sacs is None else {item: sacs.get(item, ()) for item in items},
    )
