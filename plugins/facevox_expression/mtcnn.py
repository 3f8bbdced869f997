"""MTCNN face detector with five facial landmarks, for eye-aligned expression crops.

Multi-task Cascaded Convolutional Networks (Zhang, Zhang, Li & Qiao 2016, "Joint Face
Detection and Alignment using Multi-task Cascaded Convolutional Networks", IEEE SPL 23(10)):
three small CNNs in a cascade. P-Net scans an image pyramid with a 12x12 window (stride 2)
and proposes boxes; R-Net re-scores and refines 24x24 crops of them; O-Net re-scores 48x48
crops and regresses the box and five landmarks (eye centres, nose tip, mouth corners).
Between stages, boxes are regressed, made square and pruned by non-maximum suppression.

The weights (about 0.5 M parameters, shipped in fp16 as ``weights/mtcnn.safetensors``, 1 MB)
are the original authors' Caffe models (MIT licence, kpzhang93/MTCNN_face_detection_alignment)
as converted to PyTorch by the ``facenet-pytorch`` package (MIT licence, Tim Esler 2019),
whose wheel ships them; ``tools/convert_mtcnn_weights.py`` rebuilds the file from that wheel.
The converted networks see ``(B, 3, H, W)`` float32 RGB scaled ``(pixel - 127.5) / 128``.

Registered as the face detector ``mtcnn``: its boxes carry ``left_eye`` / ``right_eye``, so the
pipelines align each crop on the eyes (:func:`facevox.images.align_face`).
"""

from __future__ import annotations

import threading
from importlib.resources import files

import cv2
import numpy as np
import torch
from facevox import FaceBox, FaceDetector, load_weights
from torch import Tensor, nn

__all__ = ["MTCNNFaceDetector", "MTCNNNets", "ONet", "PNet", "RNet", "nms"]

WEIGHTS_SHA256 = "6fefe7d8964b1e27a6abd4b352fd44478580406e102584dd5ef674cf553fe51d"
"""SHA-256 of ``weights/mtcnn.safetensors`` (checked on load)."""


def _prelu_conv(cin: int, cout: int, k: int) -> tuple[nn.Conv2d, nn.PReLU]:
    return nn.Conv2d(cin, cout, k), nn.PReLU(cout)


class PNet(nn.Module):
    """Proposal network: fully convolutional; ``(B, 3, H, W)`` -> face probability
    ``(B, H', W')`` and box offsets ``(B, 4, H', W')`` (fractions of the 12-pixel window), with
    ``H' = ceil((H - 2) / 2) - 4`` for the 12x12 window at stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _prelu_conv(3, 10, 3)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _prelu_conv(10, 16, 3)
        self.conv3, self.prelu3 = _prelu_conv(16, 32, 3)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return torch.softmax(self.conv4_1(x), dim=1)[:, 1], self.conv4_2(x)


class RNet(nn.Module):
    """Refinement network: ``(B, 3, 24, 24)`` -> face probability ``(B,)``, box offsets ``(B, 4)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _prelu_conv(3, 28, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _prelu_conv(28, 48, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _prelu_conv(48, 64, 2)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # The converted dense weights expect Caffe's (W, H, C) flattening order.
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).flatten(1)))
        return torch.softmax(self.dense5_1(x), dim=1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """Output network: ``(B, 3, 48, 48)`` -> face probability ``(B,)``, box offsets ``(B, 4)``
    and landmarks ``(B, 10)`` (five x then five y, as fractions of the crop)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _prelu_conv(3, 32, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _prelu_conv(32, 64, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _prelu_conv(64, 64, 3)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = _prelu_conv(64, 128, 2)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).flatten(1)))
        return torch.softmax(self.dense6_1(x), dim=1)[:, 1], self.dense6_2(x), self.dense6_3(x)


class MTCNNNets(nn.Module):
    """The three networks under one state dict (keys ``pnet.*``, ``rnet.*``, ``onet.*``)."""

    def __init__(self) -> None:
        super().__init__()
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression.

    Args:
        boxes: ``(N, 4)`` float ``x1, y1, x2, y2`` in pixels.
        scores: ``(N,)`` float; higher is kept first.
        threshold: a box is dropped when its overlap with a kept box exceeds this.
        mode: ``"union"`` (intersection over union) or ``"min"`` (intersection over the smaller
            area: also drops a box nested inside a kept one).

    Returns:
        ``(K,)`` int64 indices of the kept boxes, by decreasing score.

    Raises:
        ValueError: an unknown ``mode``.
    """
    if mode not in ("union", "min"):
        raise ValueError(f"mode must be 'union' or 'min', got {mode!r}")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter / np.maximum(denom, 1e-9) <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Move ``(N, 4)`` boxes by ``(N, 4)`` offsets given as fractions of their width/height."""
    wh = np.tile(boxes[:, 2:4] - boxes[:, 0:2], 2)
    return boxes + offsets * wh


def _square(boxes: np.ndarray) -> np.ndarray:
    """The square of side ``max(w, h)`` centred on each box."""
    centre = (boxes[:, 0:2] + boxes[:, 2:4]) / 2
    half = np.max(boxes[:, 2:4] - boxes[:, 0:2], axis=1, keepdims=True) / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def _normalise(pixels: np.ndarray) -> Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, H, W)`` float32 ``(x - 127.5) / 128``."""
    return (torch.from_numpy(pixels).permute(0, 3, 1, 2).float() - 127.5) * 0.0078125


def _crops(image: np.ndarray, boxes: np.ndarray, side: int) -> np.ndarray:
    """``(N, side, side, 3)`` uint8 crops of ``boxes`` (pixels outside the image are black)."""
    h, w = image.shape[:2]
    out = np.zeros((len(boxes), side, side, 3), dtype=np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(np.round(boxes).astype(np.int64)):
        bw, bh = x2 - x1, y2 - y1
        if bw < 1 or bh < 1:
            continue
        patch = np.zeros((bh, bw, 3), dtype=np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if sx2 > sx1 and sy2 > sy1:
            patch[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
        out[i] = cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)
    return out


class MTCNNFaceDetector(FaceDetector):
    """MTCNN face detector (see the module docstring) returning eye landmarks.

    Args:
        min_face_size: smallest face side searched for, in pixels (``>= 12``); the first pyramid
            level scales the image by ``12 / min_face``.
        min_size_fraction: the same as a fraction of the shorter image side; the larger of the two
            applies (large photos are not scanned for tiny faces, which keeps them fast).
        thresholds: face-probability thresholds of P-Net, R-Net and O-Net, each in ``(0, 1)``
            (the paper's 0.6, 0.7, 0.7).
        scale_factor: image-pyramid step, in ``(0, 1)`` (0.709: about sqrt(0.5)).
        min_score: faces whose O-Net probability is below this are dropped.

    Raises:
        ValueError: an argument out of range.
        facevox.CheckpointError: the shipped weights are missing or damaged.

    ``detect`` is thread-safe (the networks are read-only; torch releases the GIL).
    """

    name = "mtcnn"

    def __init__(
        self,
        min_face_size: int = 20,
        min_size_fraction: float = 0.08,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        scale_factor: float = 0.709,
        min_score: float = 0.9,
    ) -> None:
        if min_face_size < 12:
            raise ValueError(f"min_face_size must be >= 12 pixels, got {min_face_size}")
        if not 0.0 <= min_size_fraction < 1.0:
            raise ValueError(f"min_size_fraction must be in [0, 1), got {min_size_fraction}")
        if len(thresholds) != 3 or not all(0.0 < t < 1.0 for t in thresholds):
            raise ValueError(f"thresholds must be three numbers in (0, 1), got {thresholds!r}")
        if not 0.0 < scale_factor < 1.0:
            raise ValueError(f"scale_factor must be in (0, 1), got {scale_factor}")
        if not 0.0 <= min_score < 1.0:
            raise ValueError(f"min_score must be in [0, 1), got {min_score}")
        self.min_face_size = min_face_size
        self.min_size_fraction = min_size_fraction
        self.thresholds = tuple(float(t) for t in thresholds)
        self.scale_factor = scale_factor
        self.min_score = min_score
        self.nets = _shipped_nets()

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in an ``(H, W, 3)`` uint8 RGB (or ``(H, W)`` greyscale) image, largest first,
        each with ``score`` (O-Net probability) and ``left_eye`` / ``right_eye`` in pixels;
        ``[]`` if none.

        Raises:
            ValueError: ``image`` is not ``(H, W, 3)`` or ``(H, W)`` uint8.
        """
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
            raise ValueError(f"image must be (H, W, 3) or (H, W) uint8, got {image.shape} {image.dtype}")
        rgb = np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image)
        with torch.inference_mode():
            boxes = self._propose(rgb)
            if len(boxes):
                boxes = self._refine(rgb, boxes)
            if not len(boxes):
                return []
            return self._output(rgb, boxes)

    def _propose(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        min_face = max(float(self.min_face_size), self.min_size_fraction * min(h, w))
        scale = 12.0 / min_face
        found = []
        level = rgb
        while min(h, w) * scale >= 12:
            sh, sw = int(np.ceil(h * scale)), int(np.ceil(w * scale))
            # each level from the one before (area-averaged): the pyramid costs about one resize
            level = cv2.resize(level, (sw, sh), interpolation=cv2.INTER_AREA if sw < level.shape[1] else cv2.INTER_LINEAR)
            prob, offsets = self.nets.pnet(_normalise(level[None]))
            ys, xs = np.nonzero(prob[0].numpy() > self.thresholds[0])
            if len(ys):
                windows = np.stack([2 * xs, 2 * ys, 2 * xs + 12, 2 * ys + 12], axis=1) / scale
                scores = prob[0].numpy()[ys, xs]
                cand = np.concatenate([windows, offsets[0].numpy()[:, ys, xs].T, scores[:, None]], axis=1)
                found.append(cand[nms(cand[:, :4], scores, 0.5)])
            scale *= self.scale_factor
        if not found:
            return np.zeros((0, 5))
        cand = np.concatenate(found)
        cand = cand[nms(cand[:, :4], cand[:, 8], 0.7)]
        return np.concatenate([_square(_regress(cand[:, :4], cand[:, 4:8])), cand[:, 8:9]], axis=1)

    def _refine(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        prob, offsets = self.nets.rnet(_normalise(_crops(rgb, boxes[:, :4], 24)))
        keep = prob.numpy() > self.thresholds[1]
        boxes, scores, offsets = boxes[keep, :4], prob.numpy()[keep], offsets.numpy()[keep]
        kept = nms(boxes, scores, 0.7)
        return np.concatenate([_square(_regress(boxes[kept], offsets[kept])), scores[kept, None]], axis=1)

    def _output(self, rgb: np.ndarray, boxes: np.ndarray) -> list[FaceBox]:
        prob, offsets, marks = self.nets.onet(_normalise(_crops(rgb, boxes[:, :4], 48)))
        keep = prob.numpy() > max(self.thresholds[2], self.min_score)
        squares, scores = boxes[keep, :4], prob.numpy()[keep]
        wh = squares[:, 2:4] - squares[:, 0:2]
        xs = squares[:, 0:1] + marks.numpy()[keep, 0:5] * wh[:, 0:1]
        ys = squares[:, 1:2] + marks.numpy()[keep, 5:10] * wh[:, 1:2]
        final = _regress(squares, offsets.numpy()[keep])
        kept = nms(final, scores, 0.7, mode="min")
        faces = []
        for i in kept:
            x1, y1, x2, y2 = final[i]
            (lx, rx), (ly, ry) = xs[i, 0:2], ys[i, 0:2]
            if lx > rx:  # a mirrored face: keep the image-left eye first
                (lx, ly), (rx, ry) = (rx, ry), (lx, ly)
            faces.append(FaceBox(
                int(round(x1)), int(round(y1)), int(round(x2 - x1)), int(round(y2 - y1)),
                score=round(float(scores[i]), 4),
                left_eye=(round(float(lx), 1), round(float(ly), 1)),
                right_eye=(round(float(rx), 1), round(float(ry), 1))))
        return sorted(faces, key=lambda b: b.area, reverse=True)


_NETS: MTCNNNets | None = None
_NETS_LOCK = threading.Lock()


def _shipped_nets() -> MTCNNNets:
    """The shipped networks, loaded once per process (float32, eval mode, channels-last weights:
    the inputs are NHWC pixels permuted, so oneDNN keeps that layout throughout; 36 -> 26 ms p50
    per 640x480 photo on 2 threads)."""
    global _NETS
    with _NETS_LOCK:
        if _NETS is None:
            nets = MTCNNNets()
            load_weights(nets, files(__package__) / "weights" / "mtcnn.safetensors", sha256=WEIGHTS_SHA256)
            _NETS = nets.eval().requires_grad_(False).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return _NETS
