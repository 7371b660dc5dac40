"""Intake: files, zips and K-Ium folders in; a typed :class:`~core.case.Case` out.

``decode_image`` is the generic one-file decoder (JPEG, PNG, DICOM) that other studies
reuse; ``case_from_files``, ``case_from_zip`` and ``read_kium_folder`` build aneurysm cases.
Bad input never raises out of the case builders: it becomes ``Case.problems``. Limits
(:mod:`core.limits`) are checked from headers before decoding; ``short_name`` is how every
file name appears in messages and logs.
"""

from core.intake.archive import case_from_zip
from core.intake.assemble import case_from_files
from core.intake.decode import decode_image, sniff_format
from core.intake.errors import BadFile, IntakeError, TooLarge
from core.intake.folder import KiumFolder, read_kium_folder
from core.intake.frames import DEFAULT_FRAME_RULE, FRAME_RULES, FrameRule
from core.intake.naming import ParsedName, parse_name, parse_view, safe_basename, short_name

__all__ = [
    "decode_image",
    "sniff_format",
    "case_from_files",
    "case_from_zip",
    "read_kium_folder",
    "KiumFolder",
    "IntakeError",
    "BadFile",
    "TooLarge",
    "FrameRule",
    "FRAME_RULES",
    "DEFAULT_FRAME_RULE",
    "ParsedName",
    "parse_name",
    "parse_view",
    "safe_basename",
    "short_name",
]
