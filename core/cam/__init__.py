"""Grad-CAM for the registry's models: explicit targets, raw maps, hooks released, one CAM
at a time per shared model, and maps placed back in original image coordinates."""
