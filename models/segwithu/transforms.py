"""Augmentation and corruption transforms on batches of raw grey frames.

Every transform is a callable taking (images [B,1,H,W] raw 0..255, masks [B,H,W],
generator) and returning both, so geometric transforms move the mask with the image.
Intensity transforms leave the mask alone and clamp to 0..255.

Two presets: `backbone_augmentation` (mild: what a scanner varies from patient to patient)
and `head_augmentation` (strong: inputs that make the backbone fail, so that the head sees
errors to learn from). Motion blur and depth/zoom change are kept out of head training on
purpose (`HELD_OUT_FAMILIES`) so that evaluation can test shifts the head never saw.
"""
from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F

HELD_OUT_FAMILIES = ("motion_blur", "depth_zoom")
HEAD_TRAINING_FAMILIES = ("gain_contrast", "speckle", "additive_noise", "occlusion", "lift_off", "acoustic_shadow")


def _uniform(low: float, high: float, rng: random.Random) -> float:
    return low + (high - low) * rng.random()


class GainContrast:
    """Multiply by a gain and pull values towards the frame mean (contrast < 1 flattens)."""

    def __init__(self, gain: tuple[float, float], contrast: tuple[float, float]):
        self.gain, self.contrast = gain, contrast

    def __call__(self, images, masks, rng):
        out = images.clone()
        for i in range(images.shape[0]):
            gain, contrast = _uniform(*self.gain, rng), _uniform(*self.contrast, rng)
            mean = out[i].mean()
            out[i] = (out[i] - mean) * contrast + mean
            out[i] = out[i] * gain
        return out.clamp(0, 255), masks


class Speckle:
    """Multiplicative speckle: pixel * (1 + sigma * n), n standard normal, smoothed over 2 pixels."""

    def __init__(self, sigma: tuple[float, float]):
        self.sigma = sigma

    def __call__(self, images, masks, rng):
        sigma = torch.tensor([_uniform(*self.sigma, rng) for _ in range(images.shape[0])]).view(-1, 1, 1, 1)
        noise = F.avg_pool2d(torch.randn_like(images), 3, stride=1, padding=1) * 3.0
        return (images * (1 + sigma * noise)).clamp(0, 255), masks


class AdditiveNoise:
    """Additive Gaussian noise with a standard deviation in grey levels."""

    def __init__(self, sigma: tuple[float, float]):
        self.sigma = sigma

    def __call__(self, images, masks, rng):
        sigma = torch.tensor([_uniform(*self.sigma, rng) for _ in range(images.shape[0])]).view(-1, 1, 1, 1)
        return (images + sigma * torch.randn_like(images)).clamp(0, 255), masks


class Occlusion:
    """Bands or blocks of constant grey (dark or bright) across the frame."""

    def __init__(self, max_fraction: float):
        self.max_fraction = max_fraction

    def __call__(self, images, masks, rng):
        out = images.clone()
        _, _, height, width = images.shape
        for i in range(images.shape[0]):
            for _ in range(rng.randint(1, 2)):
                horizontal = rng.random() < 0.5
                size = int(_uniform(0.08, self.max_fraction, rng) * (height if horizontal else width))
                start = rng.randint(0, (height if horizontal else width) - size)
                value = rng.choice([0.0, _uniform(0, 40, rng), _uniform(150, 255, rng)])
                if horizontal:
                    out[i, :, start:start + size, :] = value
                else:
                    out[i, :, :, start:start + size] = value
        return out, masks


class LiftOff:
    """Partial probe contact: one side of the frame fades to black with a soft edge."""

    def __init__(self, max_fraction: float):
        self.max_fraction = max_fraction

    def __call__(self, images, masks, rng):
        out = images.clone()
        _, _, _, width = images.shape
        columns = torch.arange(width, dtype=torch.float32)
        for i in range(images.shape[0]):
            edge = _uniform(0.15, self.max_fraction, rng) * width
            softness = _uniform(3, 20, rng)
            ramp = torch.sigmoid((columns - edge) / softness)
            if rng.random() < 0.5:
                ramp = ramp.flip(0)
            residual = _uniform(0.0, 0.15, rng)
            out[i] = out[i] * (residual + (1 - residual) * ramp.view(1, 1, -1))
        return out, masks


class AcousticShadow:
    """A dark vertical band below a random depth, as behind calcified plaque or bone."""

    def __init__(self, max_width_fraction: float):
        self.max_width_fraction = max_width_fraction

    def __call__(self, images, masks, rng):
        out = images.clone()
        _, _, height, width = images.shape
        rows = torch.arange(height, dtype=torch.float32).view(-1, 1)
        columns = torch.arange(width, dtype=torch.float32).view(1, -1)
        for i in range(images.shape[0]):
            centre = _uniform(0.2, 0.8, rng) * width
            half = _uniform(0.05, self.max_width_fraction, rng) * width / 2
            top = _uniform(0.05, 0.6, rng) * height
            across = torch.sigmoid((half - (columns - centre).abs()) / 4)
            below = torch.sigmoid((rows - top) / 6)
            depth = _uniform(0.7, 0.98, rng)
            out[i, 0] = out[i, 0] * (1 - depth * across * below)
        return out, masks


class MotionBlur:
    """Directional box blur of a given length in pixels (held out of head training)."""

    def __init__(self, length: tuple[int, int]):
        self.length = length

    def __call__(self, images, masks, rng):
        out = images.clone()
        for i in range(images.shape[0]):
            length = rng.randint(*self.length) | 1
            kernel = torch.zeros(1, 1, length, length)
            if rng.random() < 0.5:
                kernel[0, 0, length // 2, :] = 1.0 / length
            else:
                kernel[0, 0, :, length // 2] = 1.0 / length
            out[i:i + 1] = F.conv2d(images[i:i + 1], kernel, padding=length // 2)
        return out, masks


class Affine:
    """Small rotation, scale and shift about the centre; the mask follows by nearest neighbour."""

    def __init__(self, degrees: float, scale: tuple[float, float], shift_fraction: float):
        self.degrees, self.scale, self.shift = degrees, scale, shift_fraction

    def __call__(self, images, masks, rng):
        batch = images.shape[0]
        thetas = []
        for _ in range(batch):
            angle = math.radians(_uniform(-self.degrees, self.degrees, rng))
            scale = _uniform(*self.scale, rng)
            tx, ty = _uniform(-self.shift, self.shift, rng) * 2, _uniform(-self.shift, self.shift, rng) * 2
            cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
            thetas.append([[cos, -sin, tx], [sin, cos, ty]])
        theta = torch.tensor(thetas, dtype=torch.float32)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        masks = F.grid_sample(masks[:, None].float(), grid, mode="nearest", padding_mode="zeros", align_corners=False)[:, 0].long()
        return images, masks


class HorizontalFlip:
    def __call__(self, images, masks, rng):
        if rng.random() < 0.5:
            return images.flip(-1), masks.flip(-1)
        return images, masks


class Compose:
    def __init__(self, steps):
        self.steps = steps

    def __call__(self, images, masks, rng):
        for step in self.steps:
            images, masks = step(images, masks, rng)
        return images, masks


class OneOrTwoOf:
    """Apply one or two transforms picked at random, or none with probability `p_clean`."""

    def __init__(self, choices, p_clean: float):
        self.choices, self.p_clean = choices, p_clean

    def __call__(self, images, masks, rng):
        out_images, out_masks = images.clone(), masks.clone()
        for i in range(images.shape[0]):
            if rng.random() < self.p_clean:
                continue
            picks = rng.sample(self.choices, k=1 if rng.random() < 0.6 else 2)
            image, mask = images[i:i + 1], masks[i:i + 1]
            for pick in picks:
                image, mask = pick(image, mask, rng)
            out_images[i:i + 1], out_masks[i:i + 1] = image, mask
        return out_images, out_masks


def random_crops(images, masks, size: int, rng: random.Random, p_vessel: float = 0.7):
    """Crop `size`×`size` windows; with probability `p_vessel` the window contains the vessel."""
    _, _, height, width = images.shape
    crops_i, crops_m = [], []
    for i in range(images.shape[0]):
        ys, xs = torch.nonzero(masks[i], as_tuple=True)
        if len(ys) and rng.random() < p_vessel:
            k = rng.randrange(len(ys))
            cy, cx = int(ys[k]), int(xs[k])
            top = min(max(cy - rng.randint(size // 4, 3 * size // 4), 0), height - size)
            left = min(max(cx - rng.randint(size // 4, 3 * size // 4), 0), width - size)
        else:
            top, left = rng.randint(0, height - size), rng.randint(0, width - size)
        crops_i.append(images[i, :, top:top + size, left:left + size])
        crops_m.append(masks[i, top:top + size, left:left + size])
    return torch.stack(crops_i), torch.stack(crops_m)


def backbone_augmentation() -> Compose:
    return Compose([
        HorizontalFlip(),
        Affine(degrees=10, scale=(0.9, 1.12), shift_fraction=0.06),
        GainContrast(gain=(0.75, 1.3), contrast=(0.75, 1.25)),
        OneOrTwoOf([Speckle((0.05, 0.25)), AdditiveNoise((2, 10))], p_clean=0.5),
    ])


def head_augmentation() -> Compose:
    """Error-inducing corruptions: deep gain and contrast drops, heavy noise, occlusion, lift-off, shadow."""
    return Compose([
        HorizontalFlip(),
        Affine(degrees=8, scale=(0.92, 1.08), shift_fraction=0.05),
        OneOrTwoOf([
            GainContrast(gain=(0.15, 0.6), contrast=(0.2, 0.7)),
            Speckle((0.3, 0.9)),
            AdditiveNoise((15, 60)),
            Occlusion(max_fraction=0.35),
            LiftOff(max_fraction=0.6),
            AcousticShadow(max_width_fraction=0.3),
        ], p_clean=0.25),
    ])


def corruption(family: str, severity: int) -> object:
    """Build a corruption of one family at a fixed strength for severity 1..3, for validation fitting."""
    s = severity
    table = {
        "gain_contrast": GainContrast(gain=(0.75 - 0.2 * s,) * 2, contrast=(0.8 - 0.2 * s,) * 2),
        "speckle": Speckle(((0.2 + 0.25 * s),) * 2),
        "additive_noise": AdditiveNoise(((8 + 15 * s),) * 2),
        "occlusion": Occlusion(max_fraction=0.1 + 0.1 * s),
        "lift_off": LiftOff(max_fraction=0.2 + 0.15 * s),
        "acoustic_shadow": AcousticShadow(max_width_fraction=0.1 + 0.08 * s),
        "motion_blur": MotionBlur(length=(3 + 4 * s, 3 + 4 * s)),
    }
    if family not in table:
        raise ValueError(f"unknown corruption family '{family}'; known: {sorted(table)}")
    return table[family]
