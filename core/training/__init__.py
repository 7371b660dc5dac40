"""Training of the two-stage pipeline: data cache, patient split, losses, sampling, the
generic loop (AMP, checkpoints, DDP), profiles, and ``python -m core train``.
Import the submodules directly; this package imports nothing heavy."""
