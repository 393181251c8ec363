"""Eyelid contours from MediaPipe's iris model, for blinks.

The face mesh's eyelid points barely move when a person blinks (measured on ../shared/faces/video: its eye
aspect ratio fell only to 0.73-0.94 of open). The iris model, run on a 64x64 crop of each eye, follows the
lids: the opening fell to 0.24-0.40 of open (below 0 once) in 10 of the 11 labelled blinks
(docs/accuracy.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.infer.runtime import load

LEFT_CORNERS = (33, 133)  # face-mesh corners of the image-left eye (outer, inner)
RIGHT_CORNERS = (362, 263)  # image-right eye (inner, outer); mirrored for the model, trained on one eye side
LOWER_LID = (2, 3, 4, 5, 6)  # middle points of the model's lower-lid contour (0..8)
UPPER_LID = (10, 11, 12, 13, 14)  # middle points of the upper-lid contour (9..15)
CROP_SCALE = 2.3  # MediaPipe's eye region: 2.3x the corner distance, square


def eye_opening(contour: np.ndarray) -> float:
    """Mean lid gap over the eye's width, in the (level) crop: about 0.3 open, near 0 closed."""
    width = float(np.linalg.norm(contour[8, :2] - contour[0, :2])) or 1.0
    return float((contour[list(LOWER_LID), 1].mean() - contour[list(UPPER_LID), 1].mean()) / width)


class EyeContours:
    """Runs the iris model on both eyes of a face mesh; about 2 ms per eye on one core here."""

    size = 64

    def __init__(self, threads: int = 1):
        self.model = load("iris_landmark", threads)

    def contour(self, rgb: np.ndarray, left: np.ndarray, right: np.ndarray, mirror: bool) -> np.ndarray:
        """71 x 3 eye contour points in crop pixels for the eye whose corners are `left`, `right` (image)."""
        centre, vec = (left + right) / 2, right - left
        length = float(np.linalg.norm(vec)) or 1.0
        side = length * CROP_SCALE
        ux = vec / length
        uy = np.array([-ux[1], ux[0]])
        src = np.float32([centre - (ux + uy) * side / 2, centre + (ux - uy) * side / 2,
                          centre + (uy - ux) * side / 2])
        s = self.size
        dst = np.float32([[s, 0], [0, 0], [s, s]]) if mirror else np.float32([[0, 0], [s, 0], [0, s]])
        m = cv2.getAffineTransform(src, dst)
        crop = cv2.warpAffine(rgb, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        outputs = self.model.run(crop.astype(np.float32)[None] / 255.0)  # RGB [0, 1]
        return next(o for o in outputs if o.size == 213).reshape(71, 3)

    def openings(self, rgb: np.ndarray, mesh: np.ndarray) -> tuple[float, float]:
        """(image-left eye, image-right eye) openings for a face given its 468-point mesh."""
        a = self.contour(rgb, mesh[LEFT_CORNERS[0], :2], mesh[LEFT_CORNERS[1], :2], mirror=False)
        b = self.contour(rgb, mesh[RIGHT_CORNERS[0], :2], mesh[RIGHT_CORNERS[1], :2], mirror=True)
        return eye_opening(a), eye_opening(b)
