"""The VinBigData chest X-ray label set: 14 box classes plus "No finding", and the
``train.csv`` layout every part of the chest study reads and writes.

Class ids and names are the competition's, in its order; ``No finding`` (id 14) is an
image-level label with no box (the submission writes it as ``14 score 0 0 1 1``). Box
counts are the brief's, over the 15,000 training images and all three readers: the
synthetic generator draws its class frequencies from them.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = [
    "CLASSES",
    "NO_FINDING",
    "NO_FINDING_ID",
    "CLASS_IDS",
    "ALL_LABELS",
    "TRAIN_COLUMNS",
    "BOX_COLUMNS",
    "READERS",
    "BOX_COUNTS",
    "N_TRAIN_IMAGES",
    "N_NORMAL_IMAGES",
    "class_name",
]

#: The 14 finding classes; a class's id is its index.
CLASSES: tuple[str, ...] = (
    "Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly",
    "Consolidation", "ILD", "Infiltration", "Lung Opacity",
    "Nodule/Mass", "Other lesion", "Pleural effusion", "Pleural thickening",
    "Pneumothorax", "Pulmonary fibrosis",
)  # fmt: skip
NO_FINDING = "No finding"
NO_FINDING_ID = 14
CLASS_IDS: MappingProxyType[str, int] = MappingProxyType(
    {name: i for i, name in enumerate((*CLASSES, NO_FINDING))}
)
#: Every label an image can carry, "No finding" last (the metric's 15 classes).
ALL_LABELS: tuple[str, ...] = (*CLASSES, NO_FINDING)

#: ``train.csv`` columns, in the competition's order.
TRAIN_COLUMNS: tuple[str, ...] = (
    "image_id", "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max", "y_max",
)  # fmt: skip
BOX_COLUMNS: tuple[str, ...] = ("x_min", "y_min", "x_max", "y_max")

#: The reader pool: each image is read by three of them.
READERS: tuple[str, ...] = tuple(f"R{i}" for i in range(1, 18))

#: Boxes per class over the training set (all readers), from the brief.
BOX_COUNTS: MappingProxyType[str, int] = MappingProxyType({
    "Aortic enlargement": 7162, "Atelectasis": 279, "Calcification": 960,
    "Cardiomegaly": 5427, "Consolidation": 556, "ILD": 1000, "Infiltration": 1247,
    "Lung Opacity": 2483, "Nodule/Mass": 2580, "Other lesion": 2203,
    "Pleural effusion": 2476, "Pleural thickening": 4842, "Pneumothorax": 226,
    "Pulmonary fibrosis": 4655,
})  # fmt: skip
#: Images in the competition's training set, and how many had no finding.
N_TRAIN_IMAGES = 15000
N_NORMAL_IMAGES = 10606


def class_name(class_id: int) -> str:
    """The name of a class id (0-14); ``ValueError`` for anything else."""
    if isinstance(class_id, bool) or not 0 <= int(class_id) <= NO_FINDING_ID:
        raise ValueError(f"class id {class_id!r} is not 0-{NO_FINDING_ID}")
    return ALL_LABELS[int(class_id)]
