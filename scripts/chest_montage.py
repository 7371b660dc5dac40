"""Write ``docs/chest_montage.png``: synthetic chest films with their three readers' boxes.

The films come from the project's own command (``python -m core synth OUT --study chest``)
and are decoded by the intake's DICOM reader, so the montage shows what the app shows:
MONOCHROME1 films inverted, VOI windows applied. Each tile draws the true lesions as thin
white boxes and each reader's boxes in that reader's colour (legend under the tile), with
the class name; the caption gives the film's photometric, bits, size and rotation. Films
are picked so that as many classes as possible appear with few boxes per film, plus a
few normal ones.

    .venv/bin/python scripts/chest_montage.py [--out docs/chest_montage.png] [--seed 7]
        [--images 300] [--show 16] [--tile 340]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.intake.dicom import decode_dicom  # noqa: E402
from core.studies.chest.classes import NO_FINDING_ID  # noqa: E402

FONT = cv2.FONT_HERSHEY_SIMPLEX
#: One colour per reader slot (BGR): orange, cyan, magenta; truth is white.
SLOT_COLOURS = ((0, 140, 255), (255, 220, 0), (220, 60, 255))
WHITE, INK, PAPER = (255, 255, 255), (30, 30, 30), (250, 250, 250)
CAPTION = 46


def _generate(out: Path, images: int, seed: int, size: int) -> None:
    cmd = [sys.executable, "-m", "core", "synth", str(out), "--study", "chest",
           "--images", str(images), "--seed", str(seed), "--size", str(size)]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd[1:])} failed:\n{done.stderr[-2000:]}")


def _pick(truth: dict, show: int, normals: int) -> list[str]:
    """Abnormal films that add unseen classes with the least clutter first (at most four
    lesions each, so the boxes stay legible), then ``normals`` normal ones."""
    images = truth["images"]
    abnormal = [i for i, t in images.items() if 0 < len(t["lesions"]) <= 4]
    chosen: list[str] = []
    seen: set[int] = set()

    def gain(i: str) -> float:
        classes = {d["class_id"] for d in images[i]["lesions"]}
        return len(classes - seen) - 0.4 * len(classes & seen) - 0.1 * len(images[i]["lesions"])

    while abnormal and len(chosen) < show - normals:
        best = max(abnormal, key=gain)
        chosen.append(best)
        abnormal.remove(best)
        seen |= {d["class_id"] for d in images[best]["lesions"]}
    chosen += [i for i, t in images.items() if t["normal"]][: show - len(chosen)]
    return chosen


def _label(img: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int]) -> None:
    (w, h), _ = cv2.getTextSize(text, FONT, 0.38, 1)
    y = max(h + 2, y)
    cv2.rectangle(img, (x, y - h - 3), (x + w + 2, y + 1), INK, -1)
    cv2.putText(img, text, (x + 1, y - 1), FONT, 0.38, colour, 1, cv2.LINE_AA)


def _tile(data: Path, image_id: str, info: dict, rows: pd.DataFrame, tile: int) -> np.ndarray:
    grey, _ = decode_dicom(info["file"], (data / info["file"]).read_bytes())
    scale = tile / max(grey.shape)
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((tile + CAPTION, tile, 3), PAPER, np.uint8)
    oy, ox = (tile - small.shape[0]) // 2, (tile - small.shape[1]) // 2
    canvas[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small[..., None]

    def box(b: list[float]) -> tuple[tuple[int, int], tuple[int, int]]:
        return ((int(ox + b[0] * scale), int(oy + b[1] * scale)),
                (int(ox + b[2] * scale), int(oy + b[3] * scale)))  # fmt: skip

    for lesion in info["lesions"]:
        cv2.rectangle(canvas, *box(lesion["box"]), WHITE, 1)
    readers = info["readers"]
    for _, r in rows.iterrows():
        if int(r["class_id"]) == NO_FINDING_ID:
            continue
        colour = SLOT_COLOURS[readers.index(r["rad_id"])]
        p0, p1 = box([r["x_min"], r["y_min"], r["x_max"], r["y_max"]])
        cv2.rectangle(canvas, p0, p1, colour, 1)
        _label(canvas, str(r["class_name"]), p0[0], p0[1] - 1, colour)
    film = info["film"]
    mono = "M1" if film["photometric"] == "MONOCHROME1" else "M2"
    head = (f"{image_id[:8]}  {mono} {film['bits_stored']}-bit {info['width']}x{info['height']}"
            f" rot {film['rotation']:+.1f}")  # fmt: skip
    cv2.putText(canvas, head, (4, tile + 16), FONT, 0.4, INK, 1, cv2.LINE_AA)
    x = 4
    for rad, colour in zip(readers, SLOT_COLOURS):
        marked = rows[(rows["rad_id"] == rad) & (rows["class_id"] != NO_FINDING_ID)]
        text = f"{rad}: {len(marked)} box" + ("" if len(marked) == 1 else "es")
        cv2.putText(canvas, text, (x, tile + 36), FONT, 0.4, colour, 1, cv2.LINE_AA)
        x += cv2.getTextSize(text, FONT, 0.4, 1)[0][0] + 12
    return canvas


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "chest_montage.png")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--images", type=int, default=300, help="films generated to pick from")
    p.add_argument("--show", type=int, default=16, help="films in the montage")
    p.add_argument("--normals", type=int, default=3, help="normal films among them")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--tile", type=int, default=340)
    p.add_argument("--columns", type=int, default=4)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "chest"
        _generate(data, args.images, args.seed, args.size)
        truth = json.loads((data / "truth.json").read_text())
        table = pd.read_csv(data / "train.csv")
        tiles = [_tile(data, i, truth["images"][i], table[table["image_id"] == i], args.tile)
                 for i in _pick(truth, args.show, args.normals)]  # fmt: skip
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (-len(tiles) % args.columns)
    grid = np.vstack([np.hstack(tiles[k : k + args.columns])
                      for k in range(0, len(tiles), args.columns)])  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), grid, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write {args.out}")
    return args.out


if __name__ == "__main__":
    print(main())
