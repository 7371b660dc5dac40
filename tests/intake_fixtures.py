"""Tiny image, DICOM and zip files written in memory for the intake and fuzz tests.

Besides valid files, this writes the hostile ones the review found: a deflated DICOM
bomb, a DICOM labelled deflated that is not, and zips written byte by byte
(:func:`raw_zip`) with what ``zipfile`` would never write.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
    XRayAngiographicImageStorage,
    generate_uid,
)

from core.schema import VIEWS

#: Identifiers that must never leave the DICOM loader.
PATIENT_NAME = "Doe^Janeway"
PATIENT_ID = "PID-7731-SECRET"


def ramp(h: int = 24, w: int = 32, hi: int = 255, dtype: type = np.uint8) -> np.ndarray:
    """A left-to-right ramp from 0 to ``hi``: distinct values, easy to reason about."""
    row = np.linspace(0, hi, w).round().astype(dtype)
    return np.repeat(row[np.newaxis], h, axis=0)


def jpeg(arr: np.ndarray, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(arr: np.ndarray, mode: str | None = None) -> bytes:
    """PNG of ``arr``; uint16 2-D arrays become 16-bit grey PNGs."""
    buf = io.BytesIO()
    img = Image.fromarray(arr) if mode is None else Image.fromarray(arr, mode)
    img.save(buf, "PNG")
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width x height`` over a few bytes of pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(bytes(width + 1))  # one row, far short of the declared image
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF0 header is patched to declare ``width x height``."""
    data = bytearray(jpeg(ramp(8, 8)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def dicom(
    arr: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    syntax: str = ExplicitVRLittleEndian,
    window: tuple[float, float] | None = None,
    rescale: tuple[float, float] | None = None,
    identifiers: bool = True,
) -> bytes:
    """A Part-10 XA DICOM of ``arr`` (HxW or FxHxW), optionally compressed by pydicom."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = XRayAngiographicImageStorage
    # from the content, so that the same call writes the same bytes (the fuzz corpus)
    entropy = [arr.tobytes().hex()[:256], str(arr.shape), photometric, syntax, str(window)]
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=entropy)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = XRayAngiographicImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "XA"
    if identifiers:
        ds.PatientName = PATIENT_NAME
        ds.PatientID = PATIENT_ID
        ds.PatientBirthDate = "19700101"
        ds.StudyDate = "20240102"
    bits = bits_stored or arr.dtype.itemsize * 8
    ds.set_pixel_data(arr, photometric, bits)
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    if syntax == RLELossless:
        ds.compress(RLELossless)
    elif syntax == JPEG2000Lossless:
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    elif syntax == JPEGBaseline8Bit:  # no pydicom encoder: PIL encodes, pydicom encapsulates
        frames = arr if arr.ndim == 3 else arr[np.newaxis]
        ds.PixelData = encapsulate([jpeg(f, quality=98) for f in frames])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def dicom_claiming(
    rows: int,
    cols: int,
    frames: int = 1,
    *,
    samples: int = 1,
    bits: int = 8,
    base: bytes | None = None,
) -> bytes:
    """A DICOM (``base``, else a 4x4 ramp) whose header declares ``rows x cols x frames`` of
    ``samples`` samples of ``bits`` bits over its own, far smaller, pixel data."""
    ds = dcmread(io.BytesIO(base or dicom(ramp(4, 4))))
    ds.Rows, ds.Columns = rows, cols
    if frames > 1:
        ds.NumberOfFrames = frames
    if samples > 1:
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = samples, "RGB", 0
    if bits != ds.BitsAllocated:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def deflated_dicom(arr: np.ndarray) -> bytes:
    """A real Deflated Explicit VR Little Endian DICOM of ``arr``, written by pydicom."""
    ds = dcmread(io.BytesIO(dicom(arr)))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _part10(meta: FileMetaDataset, body: bytes) -> bytes:
    """Preamble, ``DICM`` and ``meta`` (group length recomputed), then ``body`` as given."""
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_file_meta_info(fp, meta, enforce_standard=True)
    return bytes(128) + b"DICM" + fp.getvalue() + body


def relabelled_deflated(data: bytes) -> bytes:
    """An explicit VR DICOM whose file meta is changed to say Deflated; its data is not."""
    ds = dcmread(io.BytesIO(data))
    start = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return _part10(ds.file_meta, data[start:])


def deflated_bomb(inflated_mib: int = 1000) -> bytes:
    """A deflated DICOM under 1 MiB whose header declares a 64x64 8-bit image, followed by
    ``inflated_mib`` MiB of zero pixel data once inflated (deflate's ceiling is ~1030:1).

    Each MiB of zeros is deflated once and repeated: after a full flush the compressor
    starts afresh, so the repeated blocks are a valid stream, built in milliseconds.
    """
    ds = dcmread(io.BytesIO(dicom(ramp(64, 64), identifiers=False)))
    del ds.PixelData
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, ds)
    size = inflated_mib * 2**20
    head = fp.getvalue() + b"\xe0\x7f\x10\x00OB\x00\x00" + struct.pack("<I", size)
    z = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = z.compress(head) + z.flush(zlib.Z_FULL_FLUSH)
    block = z.compress(bytes(2**20)) + z.flush(zlib.Z_FULL_FLUSH)
    out += block * inflated_mib + z.flush()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return _part10(ds.file_meta, out)


def apng(frames: int = 3) -> bytes:
    """An animated PNG of ``frames`` grey ramps (PIL writes APNG with ``save_all``)."""
    imgs = [Image.fromarray(np.clip(ramp() // 2 + 30 * k, 0, 255).astype(np.uint8))
            for k in range(frames)]  # fmt: skip
    buf = io.BytesIO()
    imgs[0].save(buf, "PNG", save_all=True, append_images=imgs[1:], duration=100)
    return buf.getvalue()


def view_files(prefix: str = "1428", arr: np.ndarray | None = None) -> list[tuple[str, bytes]]:
    """Eight JPEG views named ``{prefix}{View}.jpg``; each view a different brightness."""
    base = ramp() if arr is None else arr
    return [(f"{prefix}{v}.jpg", jpeg(np.clip(base // 2 + 10 * i, 0, 255).astype(np.uint8)))
            for i, v in enumerate(VIEWS)]  # fmt: skip


def zip_of(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


@dataclass(frozen=True)
class RawMember:
    """One member of :func:`raw_zip`: any name bytes and flags; ``payload`` replaces the
    compressed data (default: raw deflate of ``data``), ``crc`` the true CRC-32."""

    name: bytes
    data: bytes
    flags: int = 0
    method: int = 8
    payload: bytes | None = None
    crc: int | None = None


def raw_zip(members: list[RawMember], *, entries: int | None = None, zip64: bool = False) -> bytes:
    """A zip written byte by byte. ``entries`` overrides the count in the end record(s);
    ``zip64`` adds a zip64 end record and locator, the classic record saying 0xFFFF."""
    local, central = bytearray(), bytearray()
    for m in members:
        if m.payload is not None:
            payload = m.payload
        elif m.method == 8:
            z = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
            payload = z.compress(m.data) + z.flush()
        else:
            payload = m.data
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        sizes = struct.pack("<3L", crc, len(payload), len(m.data))
        offset = len(local)
        local += struct.pack("<4s5H", b"PK\x03\x04", 20, m.flags, m.method, 0, 0) + sizes
        local += struct.pack("<2H", len(m.name), 0) + m.name + payload
        central += struct.pack("<4s4B4H", b"PK\x01\x02", 20, 3, 20, 0, m.flags, m.method, 0, 0)
        central += sizes + struct.pack("<5H2L", len(m.name), 0, 0, 0, 0, 0, offset) + m.name
    count = len(members) if entries is None else entries
    start, size = len(local), len(central)
    tail = b""
    if zip64:
        tail = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size,
                           start)  # fmt: skip
        tail += struct.pack("<4sLQL", b"PK\x06\x07", 0, start + size, 1)
        count = 0xFFFF
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, min(count, 0xFFFF),
                       min(count, 0xFFFF), size, start, 0)  # fmt: skip
    return bytes(local + central + tail + eocd)


# ---------------------------------------------------------------- fuzz corpus

Field = tuple[int, int, str]  # offset, width, struct format or "text" / "uid"
#: The view a fuzzed file is named for, and the good file uploaded beside it.
FUZZ_VIEW, COMPANION_VIEW = "LI-A", "RV-B"


@dataclass(frozen=True)
class Sample:
    """A valid file to mutate, and where its header fields are (see :func:`corpus`)."""

    name: str
    data: bytes
    fmt: str  # "jpeg", "png", "dicom" or "zip"
    fields: tuple[Field, ...] = ()
    zipped: bool = False  # uploaded inside a zip beside seven good views


def companion() -> tuple[str, bytes]:
    return f"1428{COMPANION_VIEW}.jpg", jpeg(ramp())


def good_seven() -> list[tuple[str, bytes]]:
    return [(n, d) for n, d in view_files() if FUZZ_VIEW not in n]


def _png_fields(data: bytes) -> tuple[Field, ...]:
    out: list[Field] = [(8, 4, ">I"), (16, 4, ">I"), (20, 4, ">I"), (24, 1, "B"), (25, 1, "B"),
                        (26, 1, "B"), (27, 1, "B"), (28, 1, "B")]  # fmt: skip
    for kind in (b"IDAT", b"acTL", b"fcTL"):
        if (at := data.find(kind)) > 0:
            out += [(at - 4, 4, ">I"), (at + 4, 4, ">I"), (at + 8, 4, ">I")]
    return tuple(out)


def _jpeg_fields(data: bytes) -> tuple[Field, ...]:
    out: list[Field] = [(4, 2, ">H")]
    for marker in (b"\xff\xc0", b"\xff\xc4", b"\xff\xdb", b"\xff\xda"):
        if (at := data.find(marker)) > 0:
            out += [(at + 2, 2, ">H"), (at + 4, 1, "B"), (at + 5, 2, ">H"), (at + 7, 2, ">H"),
                    (at + 9, 1, "B")]  # fmt: skip
    return tuple(out)


_DICOM_TAGS = {(0x0002, 0x0000): "<I", (0x0002, 0x0010): "uid", (0x0028, 0x0002): "<H",
               (0x0028, 0x0008): "text", (0x0028, 0x0010): "<H", (0x0028, 0x0011): "<H",
               (0x0028, 0x0100): "<H", (0x0028, 0x0101): "<H", (0x0028, 0x0102): "<H",
               (0x0028, 0x0103): "<H", (0x0028, 0x1050): "text", (0x0028, 0x1051): "text",
               (0x0028, 0x1053): "text", (0x7FE0, 0x0010): "<I"}  # fmt: skip
_LONG_VRS = (b"OB", b"OW", b"OF", b"SQ", b"UN", b"UT", b"UC", b"UR", b"OD", b"OL", b"OV")


def _dicom_fields(data: bytes) -> tuple[Field, ...]:
    out: list[Field] = []
    for (group, element), kind in _DICOM_TAGS.items():
        at = data.find(struct.pack("<HH", group, element), 132)
        if at < 0:
            continue
        long_vr = data[at + 4 : at + 6] in _LONG_VRS
        length_at, value_at = (at + 8, at + 12) if long_vr else (at + 6, at + 8)
        length = struct.unpack_from("<I" if long_vr else "<H", data, length_at)[0]
        if (group, element) == (0x7FE0, 0x0010):
            out.append((length_at, 4, "<I"))
        elif kind in ("text", "uid"):
            out.append((value_at, length, kind))
        else:
            out.append((value_at, struct.calcsize(kind), kind))
    return tuple(out)


def _zip_fields(data: bytes) -> tuple[Field, ...]:
    end = data.rfind(b"PK\x05\x06")
    out: list[Field] = [(end + 8, 2, "<H"), (end + 10, 2, "<H"), (end + 12, 4, "<I"),
                        (end + 16, 4, "<I"), (end + 20, 2, "<H")]  # fmt: skip
    at = -1
    while (at := data.find(b"PK\x01\x02", at + 1)) >= 0:
        out += [
            (at + o, w, f)
            for o, w, f in (
                (8, 2, "<H"),
                (10, 2, "<H"),
                (16, 4, "<I"),
                (20, 4, "<I"),
                (24, 4, "<I"),
                (28, 2, "<H"),
                (30, 2, "<H"),
                (42, 4, "<I"),
            )
        ]
    at = -1
    while (at := data.find(b"PK\x03\x04", at + 1)) >= 0:
        out += [(at + o, w, f) for o, w, f in ((6, 2, "<H"), (8, 2, "<H"), (18, 4, "<I"),
                (22, 4, "<I"), (26, 2, "<H"), (28, 2, "<H"))]  # fmt: skip
    return tuple(out)


def corpus() -> dict[str, Sample]:
    """Valid files of every kind intake reads, each named for :data:`FUZZ_VIEW`, plus the
    image kinds again inside a zip (``zipped:``) and whole zips of the eight views."""
    grey, grey12 = ramp(), ramp(40, 48, hi=4095, dtype=np.uint16)
    rgb = np.dstack([grey, grey[:, ::-1], np.full_like(grey, 90)])
    palette = io.BytesIO()
    Image.fromarray(grey).convert("P").save(palette, "PNG")
    images = {
        "jpeg": jpeg(grey), "jpeg_rgb": jpeg(rgb), "png": png(grey), "png16": png(grey12),
        "png_rgba": png(np.dstack([rgb, np.full_like(grey, 200)])),
        "png_palette": palette.getvalue(), "apng": apng(3),
        "dicom": dicom(grey12, bits_stored=12, window=(2048, 1024)),
        "dicom_run": dicom(np.stack([grey, grey[::-1], grey // 2])),
        "dicom_mono1": dicom(grey12, bits_stored=12, photometric="MONOCHROME1"),
        "dicom_rgb": dicom(rgb, photometric="RGB"),
        "dicom_rle": dicom(grey12, bits_stored=12, syntax=RLELossless),
        "dicom_j2k": dicom(grey12, bits_stored=12, syntax=JPEG2000Lossless),
        "dicom_jpeg": dicom(grey, syntax=JPEGBaseline8Bit),
        "dicom_deflated": deflated_dicom(grey12),
    }  # fmt: skip
    fields = {"jpeg": _jpeg_fields, "png": _png_fields, "dicom": _dicom_fields}
    suffix = {"jpeg": "jpg", "png": "png", "dicom": "dcm"}
    out: dict[str, Sample] = {}
    for kind, data in images.items():
        fmt = next((f for f in ("jpeg", "dicom") if kind.startswith(f)), "png")
        name = f"1428{FUZZ_VIEW}.{suffix[fmt]}"
        out[kind] = Sample(name, data, fmt, fields[fmt](data))
        out[f"zipped:{kind}"] = Sample(name, data, fmt, out[kind].fields, zipped=True)
    members = view_files()
    for kind, data in (
        ("zip", zip_of(members)),
        ("zip_stored", zip_of(members, zipfile.ZIP_STORED)),
        ("zip64", raw_zip([RawMember(n.encode(), d) for n, d in members], zip64=True)),
    ):
        out[kind] = Sample("fuzz.zip", data, "zip", _zip_fields(data))
    return out
