"""Synthetic K-Ium cohorts: DSA-like views with known aneurysms, margins and burned-in text.

No real angiograms can be had here, so the demo models train on this, and preprocessing
and Grad-CAM are measured against its exact truth. ``python -m core synth OUT --patients N
--seed S [--prevalence P] [--start-index K] [--pad-width W]`` writes:

``OUT/train.csv``
    The 23 K-Ium columns (``core.schema.TRAIN_COLUMNS``) in order, one row per patient.
    Labels follow the brief's statistics (:mod:`core.synth.labels`).
``OUT/{Index}{View}.jpg``
    Eight grey JPEG views per patient, e.g. ``12LI-A.jpg`` (``0012LI-A.jpg`` with
    ``--pad-width 4``). Sizes run from 720x720 to 1670x1000 (width x height).
``OUT/truth.json``
    Everything the generator knows, in original pixel coordinates, boxes ``[x0, y0, x1, y1]``
    end exclusive::

        {"seed": S, "generator_version": 1,
         "images": {"12LI-A.jpg": {
             "patient": 12, "view": "LI-A", "size": [w, h],
             "kind": "clean" | "margin" | "margin_text",
             "crop": [x0, y0, x1, y1],        # the DSA field; [0, 0, w, h] when clean
             "text_boxes": [[x0, y0, x1, y1], ...],  # one per text line, glyphs + 1 px
             "text": ["L ICA  AP  7.5 fps", ...],    # the strings, same order
             "ruler": [x0, y0, x1, y1] | null,       # tick ruler, in the margin band
             "border_lines": bool,                   # thin lines 3-6 px outside the crop
             "aneurysms": [{"location": "L_MCA", "center": [x, y], "radius": r}]}},
         "patients": {"12": {"Aneurysm": 1, "L_ICA": 0, ...}}}

    Text lies inside the crop, rulers and border lines outside it, so cropping to ``crop``
    removes the margin and everything drawn on it. An aneurysm appears on exactly the views
    that show its location (``core.schema.VIEW_SHOWS``, views of its side; BA on both
    sides), with its whole sac inside the crop. Image kinds are mixed 35% clean, 35%
    margin, 30% margin_text (:mod:`core.synth.overlays`).

Everything is drawn from ``numpy.random.Generator`` streams keyed by (seed, patient index)
(:func:`core.synth.labels.patient_streams`): the same seed gives byte-identical
``train.csv``/``truth.json`` and identical pixels, and a patient does not depend on the
cohort size. Anatomy models are written for the left side and mirrored for the right
(:mod:`core.synth.carotid`, :mod:`core.synth.vertebral`).
"""

from core.synth.cohort import GENERATOR_VERSION, file_name, generate_cohort, generate_patient
from core.synth.labels import cohort_labels, patient_streams, sample_labels

__all__ = [
    "GENERATOR_VERSION",
    "generate_patient",
    "generate_cohort",
    "sample_labels",
    "cohort_labels",
    "patient_streams",
    "file_name",
]
