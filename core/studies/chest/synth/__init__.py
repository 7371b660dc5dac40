"""Synthetic chest X-ray cohorts in the VinBigData layout, with three simulated readers.

No VinBigData film can be had here, so the chest study's demo data, tests and metric
baselines run on this. ``python -m core synth OUT --study chest --images N --seed S
[--size 1024] [--png512] [--workers W]`` writes:

``OUT/train.csv``
    The competition's columns (:data:`~core.studies.chest.classes.TRAIN_COLUMNS`): one row
    per reader box, boxes in original film pixels (whole numbers written as floats, as in
    the competition's file); a reader who marks nothing writes one ``No finding`` (class
    14) row with empty box cells. Three distinct readers of R1..R17 per film.
``OUT/<image_id>.dicom``
    One film per 32-hex-digit image id (:func:`~core.studies.chest.synth.write.image_id`):
    DX or CR, MONOCHROME1 or MONOCHROME2, 12-16 stored bits, signed for some, rescale
    tags, a VOI window for about half, Pixel Spacing for about two thirds; only synthetic
    identifiers. The longer side is 82-100 % of ``--size`` (default 1024), mostly portrait.
``OUT/<image_id>.png`` and ``OUT/sizes.csv`` (with ``--png512``, instead of the DICOM)
    The popular public copies' form: the film as displayed, 8 bits, **resized to 512 x 512
    without keeping the aspect ratio** (as those copies are, and as YOLO-format labels of
    them assume); ``sizes.csv`` (``image_id,width,height``) gives the original size that
    ``train.csv``'s boxes refer to.
``OUT/truth.json``
    Everything the generator knows::

        {"study": "chest", "seed": S, "generator_version": 1, "size": 1024,
         "format": "dicom" | "png512", "normal_fraction": 0.707, "box_convention": ...,
         "images": {"<image_id>": {
             "index": 0, "file": "<image_id>.dicom", "width": w, "height": h,
             "normal": bool, "readers": ["R8", "R3", "R10"], "cardiothoracic_ratio": 0.45,
             "lesions": [{"class_id": 10, "class_name": "Pleural effusion",
                          "box": [x0, y0, x1, y1], "side": "R", ...}],
             "film": {"photometric": ..., "bits_stored": ..., "signed": ...,
                      "rescale": [slope, intercept], "window": [centre, width] | null,
                      "rotation": degrees, "exposure": ..., "gamma": ..., ...}}}}

    Truth boxes are each lesion's exact extent on the (rotated) film, integer pixels,
    ``x1``/``y1`` exclusive.

How it is built, one idea per module: :mod:`.body` (where the thorax lies),
:mod:`.anatomy` (the normal chest as density layers), :mod:`.findings` (which classes an
image has, ~70 % normal, box-count-weighted), :mod:`.lesions` with :mod:`.parenchyma` and
:mod:`.pleura` (the 14 classes' looks and places), :mod:`.readers` (three readers: jitter,
misses, unfounded boxes), :mod:`.film` (acquisition), :mod:`.write` (files) and
:mod:`.cohort` (orchestration over processes). Every film has its own random streams keyed
by (seed, index): the same seed gives byte-identical files whatever the process count.
"""

from core.studies.chest.synth.cohort import (
    DEFAULT_SIZE,
    GENERATOR_VERSION,
    Rendered,
    generate_chest_cohort,
    image_streams,
    render_image,
)
from core.studies.chest.synth.findings import NORMAL_FRACTION, sample_findings
from core.studies.chest.synth.write import PNG_SIZE, image_id

__all__ = [
    "DEFAULT_SIZE",
    "GENERATOR_VERSION",
    "NORMAL_FRACTION",
    "PNG_SIZE",
    "Rendered",
    "generate_chest_cohort",
    "image_id",
    "image_streams",
    "render_image",
    "sample_findings",
]
