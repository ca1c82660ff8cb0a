"""Carotid ultrasound frames with expert masks, letterboxed to the model input.

A dataset folder has `images/`, `masks/` and `manifest.csv` (clip_id, order_in_clip,
filename, ...). Frames are split by clip with the committed split file, never by frame,
because neighbouring frames of one clip are nearly identical.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


@dataclass(frozen=True)
class Letterbox:
    """Placement of a frame inside the model input: model = frame * scale + offset."""

    scale: float
    offset_x: int
    offset_y: int
    content_width: int
    content_height: int


def letterbox_geometry(frame_width: int, frame_height: int, model_width: int, model_height: int) -> Letterbox:
    """Fit the frame inside the model input keeping its aspect ratio, centred.

    The rounding rules here are the contract with the TypeScript pipeline: content size is
    round(frame size * scale), offsets are floor of half the remaining margin.
    """
    scale = min(model_width / frame_width, model_height / frame_height)
    content_width = min(model_width, round(frame_width * scale))
    content_height = min(model_height, round(frame_height * scale))
    offset_x = (model_width - content_width) // 2
    offset_y = (model_height - content_height) // 2
    return Letterbox(scale, offset_x, offset_y, content_width, content_height)


def letterbox_tensor(image: torch.Tensor, model_width: int, model_height: int, mode: str = "bilinear") -> tuple[torch.Tensor, Letterbox]:
    """Letterbox a [C, h, w] float tensor of raw pixel values; padding is raw value 0.

    Resizing is bilinear with half-pixel centres (align_corners=False) and no antialiasing,
    which the TypeScript pipeline reproduces exactly.
    """
    _, height, width = image.shape
    box = letterbox_geometry(width, height, model_width, model_height)
    resized = F.interpolate(image[None], size=(box.content_height, box.content_width), mode=mode,
                            align_corners=False if mode == "bilinear" else None)[0]
    out = torch.zeros((image.shape[0], model_height, model_width), dtype=image.dtype)
    out[:, box.offset_y:box.offset_y + box.content_height, box.offset_x:box.offset_x + box.content_width] = resized
    return out, box


def mask_to_frame(model_mask: np.ndarray, box: Letterbox, frame_width: int, frame_height: int) -> np.ndarray:
    """Map a model-resolution label mask back to frame pixels by nearest neighbour."""
    xs = (np.arange(frame_width) + 0.5) * box.scale + box.offset_x
    ys = (np.arange(frame_height) + 0.5) * box.scale + box.offset_y
    xi = np.clip(np.floor(xs).astype(np.int64), 0, model_mask.shape[1] - 1)
    yi = np.clip(np.floor(ys).astype(np.int64), 0, model_mask.shape[0] - 1)
    return model_mask[yi[:, None], xi[None, :]]


@dataclass
class FrameRecord:
    clip_id: str
    order_in_clip: int
    filename: str


def read_manifest(data_dir: Path) -> list[FrameRecord]:
    """Read manifest.csv, sorted by clip and order within the clip."""
    path = data_dir / "manifest.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the dataset folder needs images/, masks/ and manifest.csv")
    with path.open(newline="") as handle:
        rows = [FrameRecord(r["clip_id"], int(r["order_in_clip"]), r["filename"]) for r in csv.DictReader(handle)]
    return sorted(rows, key=lambda r: (r.clip_id, r.order_in_clip))


def read_split(split_path: Path) -> dict[str, list[str]]:
    split = json.loads(split_path.read_text())
    for part in ("train", "validation", "test"):
        if part not in split:
            raise ValueError(f"{split_path}: missing '{part}' list of clip ids")
    overlap = set(split["train"]) & set(split["validation"]) | set(split["train"]) & set(split["test"]) | set(split["validation"]) & set(split["test"])
    if overlap:
        raise ValueError(f"{split_path}: clips in more than one part: {sorted(overlap)}")
    return split


class FrameSet:
    """The frames of some clips, letterboxed once and kept in memory.

    `images` are raw grey values 0..255 (float32, [N, 1, H, W]); `masks` are 0/1 int64
    ([N, H, W]); `content` marks the letterbox content region; `frame_masks` keep the
    frame-resolution ground truth for Dice at frame resolution.
    """

    def __init__(self, data_dir: Path, clip_ids: list[str], model_size: int, limit: int | None = None):
        records = [r for r in read_manifest(data_dir) if r.clip_id in set(clip_ids)]
        if limit is not None:
            records = records[:limit]
        if not records:
            raise ValueError(f"no frames of clips {clip_ids} in {data_dir}")
        self.records = records
        images, masks, contents, self.frame_masks, self.boxes = [], [], [], [], []
        for record in records:
            image = np.asarray(Image.open(data_dir / "images" / record.filename).convert("L"), dtype=np.float32)
            mask = (np.asarray(Image.open(data_dir / "masks" / record.filename).convert("L")) > 127).astype(np.float32)
            image_box, box = letterbox_tensor(torch.from_numpy(image)[None], model_size, model_size)
            mask_box, _ = letterbox_tensor(torch.from_numpy(mask)[None], model_size, model_size)
            content = torch.zeros((model_size, model_size), dtype=torch.bool)
            content[box.offset_y:box.offset_y + box.content_height, box.offset_x:box.offset_x + box.content_width] = True
            images.append(image_box)
            masks.append((mask_box[0] > 0.5).long())
            contents.append(content)
            self.frame_masks.append(mask.astype(bool))
            self.boxes.append(box)
        self.images = torch.stack(images)
        self.masks = torch.stack(masks)
        self.content = torch.stack(contents)
        self.clip_ids = [r.clip_id for r in records]

    def __len__(self) -> int:
        return len(self.records)


def content_statistics(frames: FrameSet) -> tuple[float, float]:
    """Mean and standard deviation of pixel/255 inside the content region of the frames."""
    values = frames.images[:, 0][frames.content] / 255.0
    return float(values.mean()), float(values.std())
