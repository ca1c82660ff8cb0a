"""Train the SegWithU carotid model end to end and export it.

    /usr/bin/python3 -m segwithu.train            (from models/; about 45 minutes on 2 cores)

Stage 1 trains the U-Net backbone; stage 2 freezes it (eval mode) and trains only the
uncertainty head on inputs corrupted until the backbone fails; then the error-probability
map and the frame-risk model are fitted on the validation clips, everything is exported to
ONNX, and the test clips are evaluated once for the model card.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .data import FrameSet, content_statistics, read_split
from .losses import backbone_loss, head_losses
from .metrics import auroc
from .networks import SegWithU, SegWithUHead, UNet
from .transforms import backbone_augmentation, head_augmentation, random_crops

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_data_dir() -> Path:
    base = Path(os.environ.get("SEGWITHU_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
    return base / "ccaui-carotid"


class Clock:
    """Wall-clock budget shared by the stages, in seconds."""

    def __init__(self, budget_s: float):
        self.start, self.budget_s = time.monotonic(), budget_s

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def until(self, fraction: float) -> float:
        return self.start + fraction * self.budget_s


def log(message: str) -> None:
    print(message, flush=True)


def cosine_lr(step_fraction: float, start: float, end: float) -> float:
    return end + 0.5 * (start - end) * (1 + math.cos(math.pi * min(step_fraction, 1.0)))


def normalise(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return (images / 255.0 - mean) / std


@torch.no_grad()
def predict(model: SegWithU, frames: FrameSet, mean: float, std: float, batch: int = 8, images: torch.Tensor | None = None):
    """Run backbone and head over frames; returns logits, rank and entropy maps (CPU tensors)."""
    model.eval()
    source = frames.images if images is None else images
    logits, rank, entropy = [], [], []
    for i in range(0, len(source), batch):
        z, out = model(normalise(source[i:i + batch], mean, std))
        logits.append(z)
        rank.append(out["rank"])
        entropy.append(out["entropy"])
    return torch.cat(logits), torch.cat(rank)[:, 0], torch.cat(entropy)[:, 0]


def model_dice(logits: torch.Tensor, frames: FrameSet) -> float:
    """Mean Dice at model resolution inside the content region (a quick validation figure)."""
    prediction = logits.argmax(dim=1).bool() & frames.content
    target = frames.masks.bool() & frames.content
    inter = (prediction & target).sum(dim=(1, 2)).float()
    total = prediction.sum(dim=(1, 2)).float() + target.sum(dim=(1, 2)).float()
    return float(torch.where(total > 0, 2 * inter / total.clamp_min(1), torch.ones_like(total)).mean())


def pixel_auroc(scores: torch.Tensor, logits: torch.Tensor, frames: FrameSet, masks: torch.Tensor | None = None) -> float:
    masks = frames.masks if masks is None else masks
    errors = logits.argmax(dim=1) != masks
    return auroc(scores[frames.content].numpy(), errors[frames.content].numpy())


def train_backbone(backbone: UNet, train: FrameSet, validation: FrameSet, mean: float, std: float,
                   deadline: float, max_steps: int, batch: int, crop: int, rng: random.Random,
                   augment: bool = True, validate_every: int = 100) -> list[float]:
    """Stage 1: Dice + cross-entropy on augmented crops; keeps the weights with the best validation Dice."""
    optimiser = torch.optim.AdamW(backbone.parameters(), lr=2e-3, weight_decay=1e-4)
    augmentation = backbone_augmentation()
    model_for_validation = SegWithU(backbone, SegWithUHead(backbone.tap_channels, [0, 1]))
    losses, best_dice, best_state = [], -1.0, None
    start = time.monotonic()
    step = 0
    while step < max_steps and time.monotonic() < deadline:
        fraction = max(step / max_steps, (time.monotonic() - start) / max(deadline - start, 1e-9))
        for group in optimiser.param_groups:
            group["lr"] = cosine_lr(fraction, 2e-3, 5e-5)
        pick = [rng.randrange(len(train)) for _ in range(batch)]
        images, masks = train.images[pick], train.masks[pick]
        if augment:
            images, masks = augmentation(images, masks, rng)
        if crop < images.shape[-1]:
            images, masks = random_crops(images, masks, crop, rng)
        backbone.train()
        loss = backbone_loss(backbone(normalise(images, mean, std))[0], masks)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss))
        step += 1
        last = step == max_steps or time.monotonic() >= deadline
        if step % validate_every == 0 or last:
            logits, _, _ = predict(model_for_validation, validation, mean, std)
            dice = model_dice(logits, validation)
            if dice > best_dice:
                best_dice, best_state = dice, {k: v.clone() for k, v in backbone.state_dict().items()}
            recent = sum(losses[-validate_every:]) / len(losses[-validate_every:])
            log(f"[backbone] step {step} loss {recent:.4f} validation Dice {dice:.4f} (best {best_dice:.4f}) "
                f"lr {optimiser.param_groups[0]['lr']:.2e}")
    if best_state is not None:
        backbone.load_state_dict(best_state)
    return losses


def train_head(model: SegWithU, train: FrameSet, validation: FrameSet, validation_corrupted: torch.Tensor,
               validation_corrupted_masks: torch.Tensor, mean: float, std: float, deadline: float,
               max_steps: int, batch: int, rng: random.Random, augment: bool = True,
               validate_every: int = 60) -> list[float]:
    """Stage 2: only the head learns; the backbone is frozen and in eval mode.

    Keeps the head with the best validation pixel AUROC of the rank map, measured on clean
    and corrupted validation frames together.
    """
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    optimiser = torch.optim.AdamW(model.head.parameters(), lr=1e-3, weight_decay=1e-4)
    augmentation = head_augmentation()
    generator = torch.Generator().manual_seed(rng.randrange(2 ** 31))
    losses, best_auroc, best_state = [], -1.0, None
    start = time.monotonic()
    step = 0
    while step < max_steps and time.monotonic() < deadline:
        fraction = max(step / max_steps, (time.monotonic() - start) / max(deadline - start, 1e-9))
        for group in optimiser.param_groups:
            group["lr"] = cosine_lr(fraction, 1e-3, 3e-4)
        pick = [rng.randrange(len(train)) for _ in range(batch)]
        images, masks = train.images[pick], train.masks[pick]
        if augment:
            images, masks = augmentation(images, masks, rng)
        model.backbone.eval()
        model.head.train()
        with torch.no_grad():
            logits, taps = model.backbone(normalise(images, mean, std))
        out = model.head(logits, taps)
        terms = head_losses(logits, out, masks, generator)
        optimiser.zero_grad()
        terms["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.head.parameters(), 12.0)
        optimiser.step()
        losses.append(float(terms["total"]))
        step += 1
        last = step == max_steps or time.monotonic() >= deadline
        if step % validate_every == 0 or last:
            score, entropy_score = validate_head(model, validation, validation_corrupted, validation_corrupted_masks, mean, std)
            if score > best_auroc:
                best_auroc, best_state = score, {k: v.clone() for k, v in model.head.state_dict().items()}
            summary = " ".join(f"{k} {float(v):.3f}" for k, v in terms.items() if k != "total")
            log(f"[head] step {step} loss {sum(losses[-validate_every:]) / len(losses[-validate_every:]):.4f} ({summary}) "
                f"validation pixel AUROC rank {score:.4f} entropy {entropy_score:.4f} (best {best_auroc:.4f})")
    if best_state is not None:
        model.head.load_state_dict(best_state)
    return losses


def validate_head(model, validation, corrupted, corrupted_masks, mean, std) -> tuple[float, float]:
    logits, rank, entropy = predict(model, validation, mean, std)
    logits_c, rank_c, entropy_c = predict(model, validation, mean, std, images=corrupted)
    content = torch.cat([validation.content, validation.content.repeat(len(corrupted) // len(validation), 1, 1)])
    masks = torch.cat([validation.masks, corrupted_masks])
    errors = (torch.cat([logits, logits_c]).argmax(dim=1) != masks)[content].numpy()
    rank_all = torch.cat([rank, rank_c])[content].numpy()
    entropy_all = torch.cat([entropy, entropy_c])[content].numpy()
    return auroc(rank_all, errors), auroc(entropy_all, errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help="dataset folder with images/, masks/, manifest.csv (default: $SEGWITHU_DATA_DIR/ccaui-carotid or ../shared/data/ccaui-carotid)")
    parser.add_argument("--split", type=Path, default=REPO_ROOT / "models" / "carotid" / "split.json", help="clip split file (JSON)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "carotid", help="output folder for ONNX files, manifest and reports")
    parser.add_argument("--time-budget-minutes", type=float, default=42.0, help="wall-clock budget for the whole run, minutes (default 42)")
    parser.add_argument("--size", type=int, default=256, help="model input width and height, pixels (default 256)")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--smoke", action="store_true", help="a few steps of each stage on 8 frames per part, for CI")
    parser.add_argument("--backbone-share", type=float, default=0.55, help="share of the budget after which backbone training stops (default 0.55)")
    parser.add_argument("--head-share", type=float, default=0.85, help="share of the budget after which head training stops (default 0.85)")
    parser.add_argument("--reuse-backbone", action="store_true", help="load OUT/backbone.pt instead of training stage 1 again")
    parser.add_argument("--skip-test", action="store_true", help="skip the test-clip evaluation at the end")
    args = parser.parse_args(argv)

    from .recipe import run_recipe
    return run_recipe(args)


if __name__ == "__main__":
    sys.exit(main())
