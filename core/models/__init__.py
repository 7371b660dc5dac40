"""Models of the two-stage pipeline: registry, building, weights, bundles, calibration,
inference. Import the submodules directly; this package imports nothing heavy."""
