"""Metrics named as the literature names them: Dice, AUROC, AUPRC, AURC, E-AURC."""
from __future__ import annotations

import numpy as np


def dice(prediction: np.ndarray, target: np.ndarray) -> float:
    """Dice of two boolean masks; 1.0 when both are empty."""
    prediction, target = prediction.astype(bool), target.astype(bool)
    total = prediction.sum() + target.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(prediction, target).sum() / total)


def _grouped(scores: np.ndarray, labels: np.ndarray):
    """Positives and negatives per distinct score, in increasing score order."""
    order = np.argsort(scores, kind="mergesort")
    s, y = scores[order], labels[order].astype(np.int64)
    boundaries = np.flatnonzero(np.diff(s)) + 1
    starts = np.concatenate([[0], boundaries])
    positives = np.add.reduceat(y, starts)
    counts = np.diff(np.concatenate([starts, [len(s)]]))
    return positives, counts - positives


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative; ties count one half."""
    if len(scores) == 0:
        return float("nan")
    positives, negatives = _grouped(np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool))
    total_p, total_n = positives.sum(), negatives.sum()
    if total_p == 0 or total_n == 0:
        return float("nan")
    negatives_below = np.cumsum(negatives) - negatives
    return float((positives * (negatives_below + 0.5 * negatives)).sum() / (total_p * total_n))


def auprc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision: precision at each distinct threshold weighted by the recall gained."""
    if len(scores) == 0:
        return float("nan")
    positives, negatives = _grouped(-np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool))
    tp, fp = np.cumsum(positives), np.cumsum(negatives)
    if tp[-1] == 0:
        return float("nan")
    precision = tp / (tp + fp)
    return float((precision * positives).sum() / tp[-1])


def aurc(scores: np.ndarray, errors: np.ndarray) -> tuple[float, float]:
    """Area under the risk-coverage curve and its excess over the optimal ranking (E-AURC).

    Pixels are accepted in order of increasing uncertainty; the selective risk at coverage
    k/n is the error rate among the k most certain pixels.
    """
    errors = np.asarray(errors, dtype=np.float64)
    if len(errors) == 0:
        return float("nan"), float("nan")
    order = np.argsort(np.asarray(scores, dtype=np.float64), kind="mergesort")
    n = len(errors)
    risk = np.cumsum(errors[order]) / np.arange(1, n + 1)
    area = float(risk.mean())
    optimal = np.cumsum(np.sort(errors)) / np.arange(1, n + 1)
    return area, area - float(optimal.mean())
