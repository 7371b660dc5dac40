"""The chest cohort page's core ("Detection errors"): cached per-member boxes, and every
figure a what-if needs, recomputed without a model.

Modules (import them directly; this package imports nothing heavy):

* :mod:`.store`: the per-member box table, its cache key and cache (parquet, resumable);
* :mod:`.batch`: resumable batch inference over a labelled VinBigData folder;
* :mod:`.scoring`: fusion + rule + matching, once per (WBF settings, rule on/off);
* :mod:`.whatif`: per-class thresholds applied to a scored cohort (fast, vectorised);
* :mod:`.confusion`: the class confusion matrix at IoU 0.4;
* :mod:`.curves`: PR per class, FROC, bootstrap interval of mAP@0.4;
* :mod:`.agreement`: readers against leave-one-out fusions, the model against the same;
* :mod:`.galleries`: false-positive / false-negative lists and box crops;
* :mod:`.figures`: plotly figures of the above;
* :mod:`.api`: three plain functions for benchmarks and scripts (run, load, what-if).
"""
