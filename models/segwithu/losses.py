"""Loss terms: Dice + cross-entropy for the backbone, and the seven SegWithU head terms.

Head loss = 0.5 NLL(tempered) + 0.25 EC + 0.25 pairwise + 0.25 tail + 0.05 trust
          + 0.05 anchor + 0.05 residual, with pixel error labels e = [argmax z != y] taken
from the raw, untempered logits of the frozen backbone.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

HEAD_LOSS_WEIGHTS = {"nll": 0.5, "ec": 0.25, "pairwise": 0.25, "tail": 0.25, "trust": 0.05, "anchor": 0.05, "residual": 0.05}
MAX_PAIRS = 65_536
TAIL_TEMPERATURE = 0.25


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice of the foreground class, over the batch."""
    foreground = torch.softmax(logits, dim=1)[:, 1]
    target = target.float()
    intersection = (foreground * target).sum()
    return 1 - (2 * intersection + 1) / (foreground.sum() + target.sum() + 1)


def backbone_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, target) + soft_dice_loss(logits, target)


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance over the whole batch."""
    return (x - x.mean()) / (x.std() + 1e-6)


def pairwise_ranking(u_hat: torch.Tensor, errors: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean softplus(u_correct - u_error) over up to MAX_PAIRS random (error, correct) pairs."""
    flat_u, flat_e = u_hat.flatten(), errors.flatten()
    error_index = torch.nonzero(flat_e, as_tuple=True)[0]
    correct_index = torch.nonzero(~flat_e, as_tuple=True)[0]
    if len(error_index) == 0 or len(correct_index) == 0:
        return flat_u.sum() * 0
    pick_e = error_index[torch.randint(len(error_index), (MAX_PAIRS,), generator=generator)]
    pick_c = correct_index[torch.randint(len(correct_index), (MAX_PAIRS,), generator=generator)]
    return F.softplus(flat_u[pick_c] - flat_u[pick_e]).mean()


def tail_loss(rank: torch.Tensor, errors: torch.Tensor) -> torch.Tensor:
    """Sum of softmax(-rank / 0.25) weights on error pixels, per image, averaged over the batch.

    The weights concentrate on the pixels the map calls most certain, so an error hiding
    there costs the most.
    """
    weights = torch.softmax(-rank.flatten(1) / TAIL_TEMPERATURE, dim=1)
    return (weights * errors.flatten(1).float()).sum(dim=1).mean()


def head_losses(logits: torch.Tensor, out: dict[str, torch.Tensor], target: torch.Tensor,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    errors = (logits.argmax(dim=1) != target)[:, None]
    u_hat = standardise(out["rank"])
    terms = {
        "nll": F.cross_entropy(out["tempered_logits"], target),
        "ec": F.binary_cross_entropy_with_logits(u_hat, errors.float()),
        "pairwise": pairwise_ranking(u_hat, errors, generator),
        "tail": tail_loss(out["rank"], errors),
        "trust": (out["delta_one_low"] ** 2).mean()
        + 0.25 * ((torch.softmax(out["z_low"] + out["delta_one_low"], dim=1) - out["p_low"]) ** 2).mean(),
        "anchor": F.smooth_l1_loss(u_hat, standardise(out["anchor"].detach())),
        "residual": ((1 - out["w_low"]) * out["residual_low"]).mean(),
    }
    terms["total"] = sum(HEAD_LOSS_WEIGHTS[name] * value for name, value in terms.items())
    return terms
