"""DICOM (Part 10) to one ``uint8`` grey image in the display convention, through pydicom.

The order is the standard's: stored values -> Modality LUT (rescale or LUT sequence) ->
VOI LUT (the first VOI LUT sequence item, else the first window centre/width, using
pydicom's ``apply_voi`` / ``apply_windowing``) -> 0..255 over the VOI output range ->
MONOCHROME1 inverted, so that low values are dark everywhere (MONOCHROME2 as stored is the
vessels-dark DSA convention). Without any VOI data, unsigned data of up to 8 bits is scaled
by its bit depth (8-bit values are kept as stored) and anything deeper, signed or rescaled
is stretched by its actual range over all frames. Colour (RGB, YBR converted by pydicom,
PALETTE COLOR via ``apply_color_lut``) becomes BT.601 luma. Multi-frame runs are reduced by
:mod:`core.intake.frames`. ``Presentation LUT Shape`` is not applied: for MONOCHROME1 it
only restates the inversion.

Compressed transfer syntaxes decode through the pylibjpeg plugins (JPEG baseline/extended/
lossless, JPEG-LS, JPEG 2000, RLE); deflated files are inflated under a cap. The file is
read and its memory budget checked by :mod:`core.intake.dicomread` before ``pixel_array``
is touched. Only technical tags are read: no identifier, date or name tag is accessed,
logged or copied, and error messages carry exception *types*, never values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, apply_windowing

from core.case import SourceInfo
from core.intake.dicomread import DICOM_ERRORS, read_dicom
from core.intake.errors import BadFile, IntakeError
from core.intake.frames import DEFAULT_FRAME_RULE, FrameRule, reduce_frames
from core.intake.pixels import luminance, to_uint8, value_range

__all__ = ["DICOM_ERRORS", "decode_dicom"]

Transform = Callable[[np.ndarray], np.ndarray]


def _modality(ds: Dataset) -> tuple[Transform, list[str]]:
    if ds.get("ModalityLUTSequence"):
        return (lambda a: apply_modality_lut(a, ds)), ["Modality LUT applied (LUT sequence)"]
    slope, intercept = (
        float(ds.get("RescaleSlope", 1) or 1),
        float(ds.get("RescaleIntercept", 0) or 0),
    )
    if (slope, intercept) != (1.0, 0.0):
        note = f"Modality LUT applied (rescale slope {slope:g}, intercept {intercept:g})"
        return (lambda a: apply_modality_lut(a, ds)), [note]
    return (lambda a: a), []


def _voi(ds: Dataset) -> tuple[Transform, tuple[float, float] | None, list[str]]:
    """The VOI transform, its output range (None: no VOI in the file) and a note."""
    if ds.get("VOILUTSequence"):
        desc = ds.VOILUTSequence[0].LUTDescriptor
        domain = np.arange(int(desc[1]), int(desc[1]) + (int(desc[0]) or 2**16))

        def lut(a: np.ndarray) -> np.ndarray:  # LUTs index integers; rescale gave floats
            return apply_voi(np.rint(a).astype(np.int64) if a.dtype.kind == "f" else a, ds)

        return lut, value_range(lut(domain)), ["VOI LUT applied (VOI LUT sequence, item 1)"]
    if ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
        centre, width = (v[0] if isinstance(v, MultiValue) else v
                         for v in (ds.WindowCenter, ds.WindowWidth))  # fmt: skip
        out = value_range(apply_windowing(np.array([-np.inf, np.inf]), ds))
        func = str(ds.get("VOILUTFunction") or "LINEAR")
        note = f"VOI LUT applied (window {float(centre):g}/{float(width):g}, {func.lower()})"
        return (lambda a: apply_windowing(a, ds)), out, [note]
    return (lambda a: a), None, []


def _grey_frames(ds: Dataset, stack: np.ndarray) -> tuple[Iterator[np.ndarray], list[str]]:
    modality, notes = _modality(ds)
    voi, out_range, voi_notes = _voi(ds)
    notes += voi_notes
    if out_range is None:
        bits = int(ds.get("BitsStored") or ds.BitsAllocated)
        if bits <= 8 and not notes and not ds.get("PixelRepresentation"):
            out_range = (0.0, float(2**bits - 1))  # 8-bit kept as stored; 1-bit masks 0/255
        else:
            ranges = [value_range(modality(f)) for f in stack]
            out_range = (min(r[0] for r in ranges), max(r[1] for r in ranges))
            lo, hi = out_range
            notes.append(f"no VOI LUT or window: scaled by the actual range {lo:g}..{hi:g}")
    invert = ds.PhotometricInterpretation == "MONOCHROME1"
    if invert:
        notes.append("MONOCHROME1 inverted")

    def frames() -> Iterator[np.ndarray]:
        for f in stack:
            u8 = to_uint8(voi(modality(f)), *out_range)
            yield 255 - u8 if invert else u8

    return frames(), notes


def _colour_frames(ds: Dataset, stack: np.ndarray) -> tuple[Iterator[np.ndarray], list[str]]:
    pi = str(ds.PhotometricInterpretation)
    notes = []
    if pi == "PALETTE COLOR":
        stack = apply_color_lut(stack, ds)
        notes.append("palette applied")
    elif pi.startswith("YBR"):
        notes.append(f"{pi} converted to RGB by pydicom")
    out_range = (0.0, 255.0) if stack.dtype == np.uint8 else value_range(stack)
    notes.append("colour converted to grey by BT.601 luminance")
    return (to_uint8(luminance(f), *out_range) for f in stack), notes


def _decode(
    name: str, data: bytes, rule: FrameRule, study: str | None
) -> tuple[np.ndarray, SourceInfo]:
    ds, geo, read_notes = read_dicom(name, data, study)
    frames = geo.frames
    syntax = ds.file_meta.get("TransferSyntaxUID")
    # pydicom returns any frames beyond NumberOfFrames by default: past the checked budget
    ds.pixel_array_options(allow_excess_frames=False)
    try:
        stack = ds.pixel_array
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # the RLE plugin (Rust) panics on damaged segments, and
        if not isinstance(err, DICOM_ERRORS) and type(err).__name__ != "PanicException":
            raise  # pyo3's PanicException is a BaseException; anything else is not ours
        what = syntax.name if syntax else "unknown transfer syntax"
        raise BadFile(
            name,
            f"the pixel data could not be decoded ({what}; {type(err).__name__}): "
            "the file may be cut short or corrupt",
        ) from err
    colour = (
        int(ds.get("SamplesPerPixel") or 1) > 1 or ds.PhotometricInterpretation == "PALETTE COLOR"
    )
    if frames == 1:
        stack = stack[np.newaxis]
    it, notes = (_colour_frames if colour else _grey_frames)(ds, stack)
    pixels, how = reduce_frames(it, rule)
    if syntax is not None and syntax.is_compressed:
        notes.insert(0, f"decoded from {syntax.name}")
    notes[:0] = read_notes
    info = SourceInfo(
        name=name,
        format="dicom",
        bit_depth=int(ds.get("BitsStored") or ds.BitsAllocated),
        photometric=str(ds.PhotometricInterpretation),
        frames=frames,
        frame_rule=how if frames > 1 else None,
        notes=tuple(notes),
    )
    return pixels, info


def decode_dicom(
    name: str,
    data: bytes,
    frame_rule: FrameRule = DEFAULT_FRAME_RULE,
    *,
    study: str | None = None,
) -> tuple[np.ndarray, SourceInfo]:
    """Decode a Part-10 DICOM held in memory; raises :class:`BadFile` / :class:`TooLarge`.

    ``study`` adds that study's per-view pixel cap (:data:`core.limits.STUDY_MAX_PIXELS`).
    """
    try:
        return _decode(name, data, frame_rule, study)
    except IntakeError:
        raise
    except DICOM_ERRORS as err:
        raise BadFile(
            name,
            f"the DICOM could not be read ({type(err).__name__}); it may be cut short or corrupt",
        ) from err
