"""The MTCNN face detector: shipped weights, landmarks that follow the face, errors, NMS."""

from __future__ import annotations

import cv2
import facevox
import numpy as np
import pytest
from face_photos import ASTRONAUT_FACE, iou
from facevox.pipelines import FaceEmotionPipeline
from facevox_expression import mtcnn
from facevox_expression.mtcnn import MTCNNFaceDetector, nms


@pytest.fixture(scope="module")
def detector() -> MTCNNFaceDetector:
    made = facevox.create_face_detector("mtcnn")
    assert isinstance(made, MTCNNFaceDetector)
    return made


def _eye_angle(box: facevox.FaceBox) -> float:
    assert box.left_eye is not None and box.right_eye is not None
    (lx, ly), (rx, ry) = box.left_eye, box.right_eye
    return float(np.degrees(np.arctan2(ry - ly, rx - lx)))


def test_finds_the_astronaut_with_her_eyes(detector: MTCNNFaceDetector, astronaut: np.ndarray) -> None:
    (box,) = detector.detect(astronaut)
    assert iou(box.as_list(), ASTRONAUT_FACE) > 0.5
    assert box.score > 0.99
    assert box.left_eye is not None and box.right_eye is not None
    (lx, ly), (rx, ry) = box.left_eye, box.right_eye
    assert box.x < lx < box.x + box.w / 2 < rx < box.x + box.w  # one eye in each half of the face
    assert box.y < ly < box.y + box.h / 2 and box.y < ry < box.y + box.h / 2  # in the upper half
    assert 0.3 < (rx - lx) / box.w < 0.65 and abs(_eye_angle(box)) < 8
    # a greyscale copy is the same photo
    (grey_box,) = detector.detect(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY))
    assert iou(grey_box.as_list(), box.as_list()) > 0.8


@pytest.mark.parametrize("angle", [-25.0, 25.0])
def test_landmarks_turn_with_the_face(detector: MTCNNFaceDetector, astronaut: np.ndarray, angle: float) -> None:
    centre = (ASTRONAUT_FACE[0] + ASTRONAUT_FACE[2] / 2, ASTRONAUT_FACE[1] + ASTRONAUT_FACE[3] / 2)
    turn = cv2.getRotationMatrix2D(centre, angle, 1.0)  # positive: counter-clockwise on screen
    turned = cv2.warpAffine(astronaut, turn, (512, 512), borderMode=cv2.BORDER_REFLECT)
    (upright,) = detector.detect(astronaut)
    faces = detector.detect(turned)
    assert faces, f"no face found at {angle} degrees"
    box = faces[0]
    # image y grows downwards, so a counter-clockwise turn tilts the eye line by -angle
    assert abs(_eye_angle(box) - (_eye_angle(upright) - angle)) < 6
    # the left eye moved where the rotation takes it
    want = turn @ np.array([*upright.left_eye, 1.0])  # type: ignore[misc]
    assert np.hypot(*(np.array(box.left_eye) - want)) < 0.12 * box.w


def test_mirrored_photo_gives_mirrored_eyes(detector: MTCNNFaceDetector, astronaut: np.ndarray) -> None:
    (box,) = detector.detect(astronaut)
    (flipped,) = detector.detect(np.ascontiguousarray(astronaut[:, ::-1]))
    assert flipped.left_eye is not None and flipped.right_eye is not None
    assert flipped.left_eye[0] < flipped.right_eye[0]  # still the image-left eye first
    mirrored_right = 511 - box.left_eye[0]  # type: ignore[index]
    assert abs(flipped.right_eye[0] - mirrored_right) < 4


def test_no_face_in_flat_or_noise_images(detector: MTCNNFaceDetector) -> None:
    assert detector.detect(np.full((300, 400, 3), 128, np.uint8)) == []
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert detector.detect(noise) == []
    assert detector.detect(np.zeros((10, 10, 3), np.uint8)) == []  # smaller than one 12-pixel window


def test_pipeline_aligns_on_the_mtcnn_eyes(astronaut: np.ndarray) -> None:
    aligned = FaceEmotionPipeline(detector="mtcnn")
    boxes = aligned.detect(astronaut)
    crop = aligned.crops(astronaut, boxes)[0]
    plain = FaceEmotionPipeline(detector="opencv.haar")
    assert crop.shape == (48, 48) and not np.array_equal(crop, plain.crops(astronaut, plain.detect(astronaut))[0])
    assert aligned(astronaut)[0].emotion == "happy"


def test_bad_input_and_arguments_are_named(detector: MTCNNFaceDetector) -> None:
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        detector.detect(np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(ValueError, match="min_face_size"):
        MTCNNFaceDetector(min_face_size=8)
    with pytest.raises(ValueError, match="thresholds"):
        MTCNNFaceDetector(thresholds=(0.6, 0.7))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale_factor"):
        MTCNNFaceDetector(scale_factor=1.2)


def test_damaged_weights_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mtcnn, "_NETS", None)
    monkeypatch.setattr(mtcnn, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(facevox.CheckpointError, match="SHA-256"):
        MTCNNFaceDetector()


def test_nms_union_and_min() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [2, 2, 6, 6], [20, 20, 30, 30]], dtype=np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert nms(boxes, scores, 0.5).tolist() == [0, 2, 3]  # the overlapping box goes, the nested one stays
    assert nms(boxes, scores, 0.5, mode="min").tolist() == [0, 3]  # nested in a kept box: gone too
    assert nms(boxes, scores[::-1].copy(), 0.5).tolist() == [3, 2, 1]
    with pytest.raises(ValueError, match="mode"):
        nms(boxes, scores, 0.5, mode="max")


def test_demo_marks_the_eyes_the_detector_found(astronaut: np.ndarray) -> None:
    from facevox_demo.render import draw_faces

    (face,) = FaceEmotionPipeline()(astronaut)
    assert face.left_eye is not None and face.right_eye is not None
    marked = draw_faces(astronaut, [face])
    (boxed,) = FaceEmotionPipeline(detector="opencv.haar")(astronaut)
    unmarked = draw_faces(astronaut, [boxed])
    for ex, ey in (face.left_eye, face.right_eye):
        x, y = int(round(ex)), int(round(ey))
        assert not np.array_equal(marked[y, x], astronaut[y, x])  # a dot on the eye
        assert np.array_equal(unmarked[y, x], astronaut[y, x])  # no eyes, no dot
