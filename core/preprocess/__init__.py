"""Preprocessing: crop the dark margin, fill burned-in text, and record what was done.

``preprocess_image(gray) -> (image, PreprocessRecord)`` is the whole step for one image;
``preprocess_view(ViewImage) -> CleanView`` the same for a case. The model-input steps
(``stage1_input``, ``to_model_tensor``) are separate pure functions in
:mod:`core.preprocess.transforms`. ``python -m core preprocess IN OUT`` runs a folder;
``python -m core.preprocess.score TRUTH PRED`` measures it against synthetic truth.
"""

from core.preprocess.margin import find_crop
from core.preprocess.params import DEFAULT_PARAMS, PreprocessParams
from core.preprocess.pipeline import preprocess_image, preprocess_view
from core.preprocess.reference import reference_preprocess
from core.preprocess.text import TextLine, detect_text
from core.preprocess.transforms import resize_square, stage1_input, to_model_tensor

__all__ = [
    "preprocess_image",
    "preprocess_view",
    "find_crop",
    "detect_text",
    "TextLine",
    "PreprocessParams",
    "DEFAULT_PARAMS",
    "reference_preprocess",
    "stage1_input",
    "resize_square",
    "to_model_tensor",
]
