"""Mappings fitted after the head is trained and built into the exported graph.

- ErrorProbability: P(pixel wrong) = sigmoid(slope * rank + intercept), a logistic (Platt)
  map fitted on validation pixels inside the letterbox content region. Monotone in rank, so
  it keeps the rank map's AUROC, and its values mean the same thing for every model.
- FrameRisk: P(frame Dice < failure threshold) from a logistic model on frame aggregates
  (FrameAggregates documents each), fitted on clean and corrupted validation frames.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

AGGREGATE_NAMES = ["error_probability_in_band", "missed_structure_share", "entropy_in_band",
                   "area_deviation", "entropy_in_structure"]


class ErrorProbability(nn.Module):
    def __init__(self, slope: float = 1.0, intercept: float = 0.0):
        super().__init__()
        self.register_buffer("coefficients", torch.tensor([slope, intercept]))

    def forward(self, rank):
        return torch.sigmoid(self.coefficients[0] * rank + self.coefficients[1])


AGGREGATE_DEFINITIONS = {
    "error_probability_in_band": "mean error_probability over pixels within band_px model pixels of the predicted contour "
                                 "(max-pool dilation minus erosion of the prediction with a (2 band_px + 1) square); "
                                 "empty_prediction_value when the band is empty",
    "missed_structure_share": "share of all model pixels (padding included) with error_probability above missed_cutoff "
                              "and more than far_px model pixels (square neighbourhood) from any predicted pixel",
    "entropy_in_band": "mean normalised entropy -sum(p ln p) / ln C of the raw probabilities over the same band; "
                       "empty_prediction_value when the band is empty",
    "area_deviation": "|ln((predicted area + 1) / (typical_area_px + 1))|, areas in model pixels; typical_area_px is "
                      "the median ground-truth area of the training frames",
    "entropy_in_structure": "mean normalised entropy over the predicted structure; empty_prediction_value when nothing "
                            "is predicted",
}


class FrameAggregates(nn.Module):
    """Frame-level aggregates of the maps, at model resolution ([N, 5]).

    - error_probability_in_band: mean error probability over pixels within `band_px` of the
      predicted contour (dilation minus erosion of the prediction with a square of side
      2 * band_px + 1); 1.0 when the prediction is empty.
    - missed_structure_share: share of all model pixels with error probability above
      `missed_cutoff` and more than `far_px` from the prediction (missed structure).
    - entropy_in_band: mean normalised entropy in the same band; 1.0 when the prediction is empty.
    - area_deviation: |ln((area + 1) / (typical_area + 1))|, area in model pixels, typical
      area = the median over training frames.
    - entropy_in_structure: mean normalised entropy over the predicted structure; 1.0 when empty.
    """

    def __init__(self, band_px: int = 3, far_px: int = 5, missed_cutoff: float = 0.5, typical_area_px: float = 1000.0):
        super().__init__()
        self.band_px, self.far_px, self.missed_cutoff = band_px, far_px, missed_cutoff
        self.register_buffer("typical_area_px", torch.tensor(typical_area_px))

    def forward(self, logits, entropy, error_probability):
        prediction = (logits[:, 1:2] > logits[:, 0:1]).to(logits.dtype)
        k = 2 * self.band_px + 1
        dilated = F.max_pool2d(prediction, k, stride=1, padding=self.band_px)
        eroded = 1 - F.max_pool2d(1 - prediction, k, stride=1, padding=self.band_px)
        band = dilated - eroded
        kf = 2 * self.far_px + 1
        far = 1 - F.max_pool2d(prediction, kf, stride=1, padding=self.far_px)

        band_count = band.sum(dim=(1, 2, 3))
        area = prediction.sum(dim=(1, 2, 3))
        band_empty = (band_count < 0.5).to(logits.dtype)
        area_empty = (area < 0.5).to(logits.dtype)
        pixels = prediction.shape[2] * prediction.shape[3]

        ep_band = (error_probability * band).sum(dim=(1, 2, 3)) / band_count.clamp_min(1) + band_empty
        entropy_band = (entropy * band).sum(dim=(1, 2, 3)) / band_count.clamp_min(1) + band_empty
        missed = ((error_probability > self.missed_cutoff).to(logits.dtype) * far).sum(dim=(1, 2, 3)) / pixels
        area_deviation = torch.abs(torch.log((area + 1) / (self.typical_area_px + 1)))
        entropy_structure = (entropy * prediction).sum(dim=(1, 2, 3)) / area.clamp_min(1) + area_empty
        return torch.stack([ep_band, missed, entropy_band, area_deviation, entropy_structure], dim=1)

    def definition(self) -> dict:
        return {
            "band_px": self.band_px, "far_px": self.far_px, "missed_cutoff": self.missed_cutoff,
            "typical_area_px": float(self.typical_area_px), "empty_prediction_value": 1.0,
            "names": AGGREGATE_NAMES,
            "definitions": AGGREGATE_DEFINITIONS,
        }


class FrameRisk(nn.Module):
    """sigmoid(weights . (aggregates - mean) / scale + bias)."""

    def __init__(self, count: int = len(AGGREGATE_NAMES)):
        super().__init__()
        self.register_buffer("mean", torch.zeros(count))
        self.register_buffer("scale", torch.ones(count))
        self.register_buffer("weights", torch.zeros(count))
        self.register_buffer("bias", torch.zeros(()))

    def forward(self, aggregates):
        return torch.sigmoid(((aggregates - self.mean) / self.scale * self.weights).sum(dim=1) + self.bias)


def fit_logistic(features: torch.Tensor, labels: torch.Tensor, l2: float = 1e-3, steps: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit weights and bias of a logistic regression by Newton's method with a small L2 penalty."""
    x = torch.cat([features.double(), torch.ones(len(features), 1, dtype=torch.float64)], dim=1)
    y = labels.double()
    beta = torch.zeros(x.shape[1], dtype=torch.float64)
    penalty = torch.full((x.shape[1],), l2, dtype=torch.float64)
    penalty[-1] = 0
    for _ in range(steps):
        p = torch.sigmoid(x @ beta)
        gradient = x.T @ (p - y) / len(y) + penalty * beta
        hessian = (x * (p * (1 - p))[:, None]).T @ x / len(y) + torch.diag(penalty) + 1e-9 * torch.eye(x.shape[1], dtype=torch.float64)
        step = torch.linalg.solve(hessian, gradient)
        beta = beta - step
        if step.abs().max() < 1e-10:
            break
    return beta[:-1].float(), beta[-1].float()


def fit_error_probability(rank: torch.Tensor, errors: torch.Tensor, max_pixels: int = 2_000_000, seed: int = 0) -> ErrorProbability:
    generator = torch.Generator().manual_seed(seed)
    if len(rank) > max_pixels:
        pick = torch.randperm(len(rank), generator=generator)[:max_pixels]
        rank, errors = rank[pick], errors[pick]
    weights, bias = fit_logistic(rank[:, None], errors.float())
    return ErrorProbability(float(weights[0]), float(bias))


def fit_frame_risk(aggregates: torch.Tensor, failures: torch.Tensor) -> FrameRisk:
    model = FrameRisk(aggregates.shape[1])
    mean, scale = aggregates.mean(dim=0), aggregates.std(dim=0).clamp_min(1e-6)
    weights, bias = fit_logistic((aggregates - mean) / scale, failures.float(), l2=1e-2)
    model.mean.copy_(mean)
    model.scale.copy_(scale)
    model.weights.copy_(weights)
    model.bias.copy_(bias)
    return model


def expected_calibration_error(probabilities: torch.Tensor, outcomes: torch.Tensor, bins: int = 10) -> float:
    """Equal-width-bin ECE: sum over bins of |mean outcome - mean probability| weighted by bin share."""
    index = torch.clamp((probabilities * bins).long(), max=bins - 1)
    total = 0.0
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            total += float(chosen.float().mean()) * abs(float(outcomes[chosen].float().mean() - probabilities[chosen].mean()))
    return total


def softplus_inverse(x: float) -> float:
    return math.log(math.expm1(x))
