"""Evaluation metrics as pure functions over arrays and frames (scikit-learn underneath).

Used by ``python -m core evaluate`` and by the cohort page: :mod:`binary` (AUROC, operating
points, curves), :mod:`locations` (K-Ium accuracy and its floor, per-location tables),
:mod:`bootstrap` (patient-level intervals), :mod:`pointing` (CAM pointing game) and
:mod:`report` (one JSON-ready report). Import the submodules directly.
"""
