"""The two-class head forms (sigmoid, tanh, softplus) against the general softmax forms."""
from __future__ import annotations

import math
import sys
import unittest
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segwithu.networks import SegWithUHead  # noqa: E402


class TwoClassHeadTest(unittest.TestCase):
    def setUp(self) -> None:
        torch.manual_seed(3)
        self.head = SegWithUHead([128, 64, 32], [0, 1]).eval()
        with torch.no_grad():
            self.head.probe_out.weight.normal_()
        # Logits up to +-40 reach the range where the general form's 1e-12 clamp applies.
        self.logits = torch.cat([torch.randn(2, 2, 16, 16) * 4, torch.tensor([40.0, -40.0]).view(1, 2, 1, 1).expand(2, 2, 16, 16)], dim=2)

    def test_margin_matches_top2(self) -> None:
        margin, _ = self.head.ambiguity(self.logits)
        top2 = torch.softmax(self.logits, dim=1).topk(2, dim=1).values
        torch.testing.assert_close(margin, top2[:, :1] - top2[:, 1:2], atol=1e-6, rtol=0)

    def test_entropy_matches_softmax(self) -> None:
        _, entropy = self.head.ambiguity(self.logits)
        # The reference runs in float64: in float32 the general form itself rounds by about 1e-6.
        p = torch.softmax(self.logits.double(), dim=1)
        expected = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=1, keepdim=True) / math.log(2)
        torch.testing.assert_close(entropy.double(), expected, atol=1e-6, rtol=0)

    def test_epistemic_matches_softmax(self) -> None:
        v = torch.randn(2, self.head.probes, 8, 8)
        z_low = torch.randn(2, 2, 8, 8) * 3
        d = (z_low[:, 1:2] - z_low[:, 0:1]) + self.head.perturbation_differences(v, self.head.signs)
        two_class = 2 * torch.sigmoid(d).var(dim=1, unbiased=False, keepdim=True)
        perturbed = torch.softmax(z_low[:, None] + self.head.perturbations(v, self.head.signs), dim=2)
        general = perturbed.var(dim=1, unbiased=False).sum(dim=1, keepdim=True)
        torch.testing.assert_close(two_class, general, atol=1e-6, rtol=1e-5)


if __name__ == "__main__":
    unittest.main()
