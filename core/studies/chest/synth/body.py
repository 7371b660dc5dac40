"""Where the thorax lies on one synthetic PA film: its landmarks and outlines, in pixels.

Shapes are placed in *thorax units* and mapped to pixels once, so every film keeps the
textbook landmarks whatever its size and framing: X runs across the chest from the midline
to the lateral rib margins (-1 is the patient's right, which a PA film shows on the
viewer's left; +1 the patient's left), Y runs down from the lung apices (0) to the right
costophrenic angle (about 1). Outlines are Catmull-Rom curves through jittered control
points (:func:`core.synth.geometry.smooth_curve`, shared with the angiogram generator), so
no two films share a lung or heart outline while all keep the right dome higher than the
left, two thirds of the heart on the patient's left and the aortic knob above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.synth.geometry import smooth_curve

__all__ = ["LEFT", "NORMAL_CTR", "RIGHT", "SIDES", "WIDE_CTR", "Body"]

#: Sides by the sign of X: the patient's right is on the viewer's left of a PA film.
RIGHT, LEFT = -1, 1
SIDES = (RIGHT, LEFT)
#: Cardiothoracic ratios drawn for a normal heart and for cardiomegaly (> 0.5 is enlarged).
NORMAL_CTR = (0.38, 0.49)
WIDE_CTR = (0.54, 0.66)
_STEP_PX = 2.0  # outline resolution


def _lung_ctrl(dome: float, cp: float, m: float) -> np.ndarray:
    """Control points (|X|, Y) of one lung, from the costophrenic angle round to it again
    (the corner at the angle is the curve's one kink): dome, medial border, apex, wall."""
    dh = cp - dome
    return np.array([
        (0.97, cp), (0.86, cp - 0.35 * dh), (0.70, cp - 0.80 * dh), (0.52, dome),
        (0.34, dome + 0.12 * dh), (0.18, dome + 0.35 * dh), (m + 0.04, 0.62), (m + 0.01, 0.40),
        (m + 0.02, 0.18), (0.20, 0.03), (0.36, -0.01), (0.55, 0.03), (0.74, 0.13),
        (0.88, 0.30), (0.96, 0.52), (0.99, 0.74), (0.97, cp),
    ])  # fmt: skip


@dataclass(frozen=True, eq=False)
class Body:
    """One patient's thorax as framed on one film (all lengths in thorax units unless
    named ``_px``); outlines are computed on demand from these numbers."""

    width: int  # the canvas, i.e. the film before rotation
    height: int
    cx: float  # midline, px
    apex_y: float  # lung apices, px
    a: float  # px per X unit (half the thorax width)
    lh: float  # px per Y unit (apex to right costophrenic angle)
    dome: tuple[float, float]  # hemidiaphragm tops, (right, left)
    cp: tuple[float, float]  # costophrenic angles, (right, left)
    medi: float  # half-width of the upper mediastinum
    ctr: float  # cardiothoracic ratio
    heart_right: float  # share of the heart's width right of the midline
    heart_top: float
    knob: tuple[float, float, float]  # aortic knob (X, Y, radius in X units)
    body_w: float  # half-width of the soft tissue
    hilum_y: float
    rib_gap: float
    rib_y0: float
    clavicle_y: float
    breasts: float  # extra soft-tissue density over the lower zones (0: none)
    bubble: bool  # gastric air under the left dome
    lung_ctrl: tuple[np.ndarray, np.ndarray]  # (|X|, Y) control points, right then left

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        width: int,
        height: int,
        *,
        wide_heart: bool = False,
        big_knob: bool = False,
    ) -> Body:
        """A body framed on a ``width`` x ``height`` film. Framing (thorax 66-86 % of the
        film's width, apices 6-16 % down, midline within 4 %) varies as positioning does;
        ``wide_heart`` and ``big_knob`` are the cardiomegaly and aortic-enlargement looks."""
        a = 0.5 * width * rng.uniform(0.66, 0.86)
        lh = 2 * a * rng.uniform(0.78, 0.95)
        room = 0.86 * height / 1.12  # apex to the lowest costophrenic angle must fit
        if lh > room:
            a, lh = a * room / lh, room
        top = rng.uniform(0.06, 0.16) * height
        apex_y = min(top, 0.96 * height - 1.12 * lh)
        dome_r = rng.uniform(0.72, 0.8)
        dome = (dome_r, dome_r + rng.uniform(0.03, 0.08))
        cp = (1.0, 1.0 + rng.uniform(0.0, 0.05))
        medi = rng.uniform(0.09, 0.13)
        ctrl = []
        for side in SIDES:
            k = 0 if side == RIGHT else 1
            pts = _lung_ctrl(dome[k], cp[k], medi)
            inner = slice(1, -1)  # the angle is the curve's start and end: keep them equal
            pts[inner, 0] *= rng.uniform(0.97, 1.03, len(pts) - 2)
            pts[inner, 1] += rng.normal(0.0, 0.008, len(pts) - 2)
            ctrl.append(pts)
        ctr = rng.uniform(*(WIDE_CTR if wide_heart else NORMAL_CTR))
        r = rng.uniform(0.055, 0.075) * (rng.uniform(1.45, 1.8) if big_knob else 1.0)
        knob = (medi + 0.6 * r + rng.uniform(0.0, 0.03), rng.uniform(0.2, 0.28), r)
        return cls(
            width=width, height=height, cx=width / 2 + rng.uniform(-0.04, 0.04) * width,
            apex_y=apex_y, a=a, lh=lh, dome=dome, cp=cp, medi=medi, ctr=ctr,
            heart_right=rng.uniform(0.28, 0.38), heart_top=rng.uniform(0.40, 0.47), knob=knob,
            body_w=rng.uniform(1.12, 1.4), hilum_y=rng.uniform(0.38, 0.47),
            rib_gap=rng.uniform(0.092, 0.105), rib_y0=rng.uniform(-0.09, -0.04),
            clavicle_y=rng.uniform(-0.03, 0.04),
            breasts=float(rng.uniform(0.03, 0.08)) if rng.random() < 0.4 else 0.0,
            bubble=bool(rng.random() < 0.7), lung_ctrl=(ctrl[0], ctrl[1]),
        )  # fmt: skip

    # -- coordinates ---------------------------------------------------------------------
    def px(self, xy: np.ndarray) -> np.ndarray:
        """Thorax units -> pixel coordinates, (N, 2) float."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        return np.column_stack([self.cx + xy[:, 0] * self.a, self.apex_y + xy[:, 1] * self.lh])

    def units(self, pts: np.ndarray) -> np.ndarray:
        """Pixel coordinates -> thorax units (the inverse of :meth:`px`)."""
        pts = np.asarray(pts, float).reshape(-1, 2)
        return np.column_stack(
            [(pts[:, 0] - self.cx) / self.a, (pts[:, 1] - self.apex_y) / self.lh]
        )

    def curve(self, ctrl: np.ndarray) -> np.ndarray:
        """A smooth pixel curve through control points given in thorax units."""
        return smooth_curve(self.px(ctrl), _STEP_PX)

    @property
    def top_y(self) -> float:
        """The film's top edge in Y units (shapes that run off the film start here)."""
        return -self.apex_y / self.lh - 0.05

    @property
    def bottom_y(self) -> float:
        return (self.height - self.apex_y) / self.lh + 0.05

    # -- outlines ------------------------------------------------------------------------
    def lung_outline(self, side: int) -> np.ndarray:
        """Closed pixel outline of one lung (heart and mediastinum not yet cut out); it
        starts and ends at the costophrenic angle."""
        pts = self.lung_ctrl[0 if side == RIGHT else 1] * np.array([side, 1.0])
        return self.curve(pts)

    @property
    def heart_x(self) -> tuple[float, float]:
        """Right and left heart borders in X units (their span is 2 * ctr)."""
        right = -2 * self.ctr * self.heart_right
        return right, right + 2 * self.ctr

    def heart_ctrl(self) -> np.ndarray:
        xr, xl = self.heart_x
        ht, (dr, dl) = self.heart_top, self.dome
        yb = max(dr, dl) + 0.12  # the lower border hides in the abdomen
        widest = 0.5 * (ht + 0.2) + 0.5 * (dl - 0.02)
        return np.array([
            (0.1, ht - 0.05), (0.5 * xl, ht), (0.62 * xl, ht + 0.1), (0.85 * xl, ht + 0.2),
            (xl, widest), (0.92 * xl, dl - 0.02), (0.7 * xl, dl + 0.06), (0.2 * xl, yb),
            (0.5 * xr, yb), (0.95 * xr, dr + 0.05), (xr, ht + 0.25), (0.85 * xr, ht + 0.1),
            (0.6 * xr, ht - 0.02), (0.1, ht - 0.05),
        ])  # fmt: skip

    def heart_outline(self) -> np.ndarray:
        return self.curve(self.heart_ctrl())

    def heart_box(self) -> np.ndarray:
        """The visible heart's extent as points: the outline above the left dome (what a
        reader boxes for cardiomegaly, from border to border and down to the diaphragm)."""
        pts = self.heart_outline()
        limit = self.apex_y + (self.dome[1] + 0.02) * self.lh
        return pts[pts[:, 1] <= limit]

    def mediastinum_ctrl(self) -> np.ndarray:
        xr, xl = self.heart_x
        m, ht, kx, ky, _ = self.medi, self.heart_top, *self.knob
        return np.array([
            (-m, self.top_y), (0.9 * m, self.top_y), (m, 0.12), (kx, ky + 0.02),
            (0.45 * xl, ht + 0.02), (0.5 * xr, ht + 0.02), (-m - 0.03, 0.3), (-m, 0.12),
        ])  # fmt: skip

    def knob_px(self) -> tuple[np.ndarray, float]:
        """Aortic knob centre (px) and radius (px)."""
        kx, ky, r = self.knob
        return self.px([kx, ky])[0], r * self.a

    def hilum(self, side: int) -> np.ndarray:
        """Pixel position of a hilum (the left one a little higher, as in most films)."""
        return self.px([side * 0.3, self.hilum_y - (0.03 if side == LEFT else 0.0)])[0]

    def lung_box(self, side: int) -> np.ndarray:
        """(x0, y0, x1, y1) pixel bounding box of one lung."""
        pts = self.lung_outline(side)
        return np.concatenate([pts.min(0), pts.max(0)])
