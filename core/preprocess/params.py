"""Every tunable of preprocessing in one frozen record.

Sizes are fractions of the image (or of a character's height) wherever possible, so the
same settings serve a 720x720 K-Ium view and a 1670x1000 one. The defaults are generic
image-statistics choices explained beside each field; none is fitted to one generator.

A bundle records the settings its models were trained with (``bundle.json``:
``preprocessing.crop_text_fill.params``, written by
:func:`core.models.inputs.preprocessing_record`); :func:`recorded_params` reads them back so
inference cleans views exactly as training did, and :meth:`PreprocessParams.from_record`
refuses a record that does not match this class field for field.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

__all__ = [
    "PreprocessParams",
    "PreprocessParamsError",
    "DEFAULT_PARAMS",
    "RECORD_KEY",
    "recorded_params",
]

log = logging.getLogger(__name__)

#: The entry of ``bundle.json``'s ``preprocessing`` that holds ``{"module", "params"}``.
RECORD_KEY = "crop_text_fill"


class PreprocessParamsError(ValueError):
    """A recorded parameter set that is not a :class:`PreprocessParams`: names the fields."""


@dataclass(frozen=True)
class PreprocessParams:
    """Settings of margin cropping and burned-in text detection."""

    # --- margin (core.preprocess.margin) ---
    #: Margin threshold = this fraction of the picture background, clamped to ``dark_clamp``:
    #: a margin of 0-40 grey is far below half of any usable DSA background.
    dark_fraction: float = 0.5
    dark_clamp: tuple[int, int] = (30, 100)
    #: Opening square as a fraction of the shorter side (odd, >= 5 px): wider than ticks,
    #: border lines and caption strokes, far narrower than the picture.
    open_fraction: float = 1 / 150
    #: A row/column is picture when its bright share reaches this fraction of the best one;
    #: low, so that a thick vessel along the edge never pushes the crop inwards.
    keep_fraction: float = 0.2
    #: Fewest pixels on one side that count as margin (JPEG blurs an edge by 1-2 px).
    min_margin: int = 3

    # --- text strokes (core.preprocess.strokes) ---
    #: Side of the local-background median window, as a fraction of the shorter side.
    background_window: float = 1 / 12
    #: A stroke differs from the local background by at least this many grey levels, or
    #: ``noise_k`` robust noise sigmas if that is more.
    min_contrast: int = 25
    noise_k: float = 4.0
    #: Dark text must be near-saturated black: at most this grey level.
    black_level: int = 45

    # --- characters and lines (core.preprocess.glyphs, core.preprocess.lines) ---
    #: Character height range: at least ``min_char_px``, at most this fraction of the
    #: picture's shorter side.
    min_char_px: int = 6
    max_char_fraction: float = 0.08
    #: Neighbouring characters of a line are at most this many heights apart.
    line_gap: float = 2.0
    #: Characters needed for a line: bright text is rare in a DSA picture, dark text must
    #: beat the vessels, so it needs more evidence.
    min_chars_bright: int = 2
    min_chars_dark: int = 3
    #: Box padding around a line, as a fraction of its height (anti-aliasing, JPEG ringing).
    box_pad: float = 0.25

    # --- fill (core.preprocess.fill) ---
    #: Stroke mask dilation (px) before inpainting, and the inpainting radius.
    fill_dilate: int = 2
    inpaint_radius: int = 3

    def __post_init__(self) -> None:
        """Every field as its default's type, so equal settings have one digest (``3`` and
        ``3.0`` as a float field are the same setting) and a wrong type fails here."""
        for f in fields(self):
            object.__setattr__(self, f.name, _coerce(f.name, getattr(self, f.name), f.default))

    def to_record(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples become lists once dumped)."""
        return asdict(self)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_record`: the settings' identity in
        cache keys (equal settings, equal digest, however they were built)."""
        text = json.dumps(self.to_record(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PreprocessParams:
        """The inverse of :meth:`to_record`, strict: exactly this class's fields, each of its
        default's type (an integer is taken for a float; a list of the right length and item
        types for a tuple). Anything else raises :class:`PreprocessParamsError`, because a
        silently defaulted setting would clean views unlike the models were trained on."""
        if not isinstance(record, Mapping):
            raise PreprocessParamsError(
                f"preprocessing params must be an object, got {type(record).__name__}"
            )
        names = {f.name for f in fields(cls)}
        missing, unknown = sorted(names - set(record)), sorted(set(record) - names)
        if missing or unknown:
            raise PreprocessParamsError(
                f"preprocessing params: missing fields {missing}, unknown fields {unknown}"
            )
        return cls(**record)


def _coerce(name: str, value: Any, default: Any) -> Any:
    """``value`` as the plain type of ``default`` (a field's default fixes its type)."""
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise PreprocessParamsError(
                f"preprocessing param {name} must be {len(default)} values, got {value!r}"
            )
        return tuple(_coerce(name, v, d) for v, d in zip(value, default))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PreprocessParamsError(f"preprocessing param {name} must be a number, got {value!r}")
    if isinstance(default, int):
        if not isinstance(value, numbers.Integral):
            raise PreprocessParamsError(
                f"preprocessing param {name} must be an integer, got {value!r}"
            )
        return int(value)
    return float(value)


DEFAULT_PARAMS = PreprocessParams()


@functools.lru_cache(maxsize=64)
def _warn_unrecorded(where: str) -> None:
    """Once per bundle and process: inference would otherwise repeat it for every case."""
    log.warning(
        "%s records no preprocessing params (preprocessing.%s.params); using the defaults",
        where,
        RECORD_KEY,
    )


def recorded_params(manifest: Mapping[str, Any], where: str = "bundle") -> PreprocessParams:
    """The crop/text-fill settings a parsed ``bundle.json`` records, for inference.

    ``manifest`` is the whole document (``Bundle.manifest``, ``Manifest.raw``); ``where``
    names it in messages. A bundle that records none (written before the field existed)
    gets :data:`DEFAULT_PARAMS` and a logged warning; a malformed record raises
    :class:`PreprocessParamsError`.
    """
    preprocessing = manifest.get("preprocessing")
    entry = preprocessing.get(RECORD_KEY) if isinstance(preprocessing, Mapping) else None
    record = entry.get("params") if isinstance(entry, Mapping) else None
    if record is None:
        _warn_unrecorded(where)
        return DEFAULT_PARAMS
    try:
        return PreprocessParams.from_record(record)
    except PreprocessParamsError as exc:
        raise PreprocessParamsError(f"{where}: {exc}") from exc
