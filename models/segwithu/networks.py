"""The U-Net backbone and the SegWithU uncertainty head.

The head follows SegWithU (arXiv 2604.15271): rank-1 posterior probes read fused decoder
features and perturb the logits along learned directions; the spread of the perturbed
predictions (epistemic), the size of the perturbation (residual), an aleatoric map and the
base prediction's own ambiguity are combined into a calibration map (for tempering) and a
ranking map (for ordering pixels by how likely they are wrong). Everything comes from one
backbone pass.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class McDropout2d(nn.Module):
    """Channel dropout that can stay active at inference (Monte Carlo dropout).

    Written with rand_like instead of nn.Dropout2d so that the exported ONNX graph draws new
    masks (RandomUniformLike) on every run when `always_on` is set.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.always_on = False

    def forward(self, x):
        if not (self.training or self.always_on) or self.p == 0:
            return x
        keep = (torch.rand_like(x[:, :, :1, :1]) >= self.p).to(x.dtype)
        return x * keep / (1 - self.p)


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """A 2D U-Net with transposed-convolution upsampling and dropout in its decoder.

    `forward` returns the logits and the inputs of the decoder stages (coarse to fine: 1/8,
    1/4 and 1/2 of the input size), which are the feature taps the SegWithU head reads.
    """

    def __init__(self, channels=(16, 32, 64, 128), classes: int = 2, dropout: float = 0.1):
        super().__init__()
        self.encoders = nn.ModuleList()
        c_in = 1
        for c in channels:
            self.encoders.append(conv_block(c_in, c))
            c_in = c
        self.ups, self.decoders, self.dropouts = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for c_skip in reversed(channels[:-1]):
            self.ups.append(nn.ConvTranspose2d(c_in, c_skip, 2, stride=2))
            self.dropouts.append(McDropout2d(dropout))
            self.decoders.append(conv_block(2 * c_skip, c_skip))
            c_in = c_skip
        self.classifier = nn.Conv2d(c_in, classes, 1)
        # The input of each decoder stage (before its upsampling), coarse to fine.
        self.tap_channels = list(reversed(channels[1:]))

    def set_mc_dropout(self, on: bool) -> None:
        for module in self.dropouts:
            module.always_on = on

    def forward(self, x):
        skips = []
        for i, encoder in enumerate(self.encoders):
            x = encoder(x)
            if i < len(self.encoders) - 1:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        taps = []
        for up, dropout, decoder, skip in zip(self.ups, self.dropouts, self.decoders, reversed(skips)):
            taps.append(x)
            x = decoder(dropout(torch.cat([up(x), skip], dim=1)))
        return self.classifier(x), taps


def sign_patterns(probes: int) -> torch.Tensor:
    """K = R deterministic sign patterns s_k[r] = sign(cos(pi k (r + 1/2) / R)), k = 1..R.

    Computed in float64; |cos| < 1e-9 counts as 0, and 0 counts as +1, so the last pattern
    (every cosine exactly 0 in exact arithmetic) is all +1 on every platform.
    """
    k = np.arange(1, probes + 1, dtype=np.float64)[:, None]
    r = np.arange(probes, dtype=np.float64)[None, :]
    cosines = np.cos(np.pi * k * (r + 0.5) / probes)
    cosines[np.abs(cosines) < 1e-9] = 0.0
    return torch.from_numpy(np.where(cosines >= 0, 1.0, -1.0).astype(np.float32))


def inverse_softplus(y: float) -> float:
    return math.log(math.expm1(y))


class SegWithUHead(nn.Module):
    """Uncertainty head on frozen backbone features.

    Fusion and probes run at the finest tapped resolution (a quarter of the input with taps
    [0, 1]). The maps are upsampled bilinearly at the end. The base prediction's entropy and
    margin enter the ranking map at full resolution, where they cost nothing extra.
    """

    def __init__(self, tap_channels: list[int], taps_used: list[int], classes: int = 2,
                 features: int = 16, probes: int = 8, gamma: float = 4.0):
        super().__init__()
        self.taps_used, self.classes, self.probes, self.gamma = taps_used, classes, probes, gamma
        self.projections = nn.ModuleList(nn.Conv2d(tap_channels[i], features, 1, bias=False) for i in taps_used)
        self.fusion = nn.Sequential(
            nn.Conv2d(features * len(taps_used), features, 3, padding=1), nn.InstanceNorm2d(features, affine=True), nn.GELU(),
            nn.Conv2d(features, features, 3, padding=1), nn.InstanceNorm2d(features, affine=True), nn.GELU(),
        )
        self.probe_in = nn.Conv2d(features, probes, 1, bias=False)
        self.probe_out = nn.Conv2d(probes, classes, 1, bias=False)
        self.alpha = nn.Parameter(torch.full((probes,), inverse_softplus(0.1 - 1e-6)))
        self.aleatoric_conv = nn.Conv2d(features, 1, 1)
        self.calibration_conv = nn.Conv2d(3, 1, 1)
        self.theta = nn.Parameter(torch.tensor([1.0, 0.0, 0.0]))
        self.register_buffer("signs", sign_patterns(probes))

    def sigma(self) -> torch.Tensor:
        return F.softplus(self.alpha) + 1e-6

    def perturbations(self, v: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
        """Delta(s) = P_out(sigma * s * v) for each row s of `coefficients`: [B, K, C, h, w].

        All K perturbations are one 1x1 convolution whose weights fold sigma and the signs in.
        """
        count = int(coefficients.shape[0])  # plain ints keep the exported kernel shape constant
        weight = self.probe_out.weight[:, :, 0, 0]                           # [C, R]
        folded = coefficients[:, None, :] * (self.sigma() * weight)[None]    # [K, C, R]
        out = F.conv2d(v, folded.reshape(count * self.classes, self.probes, 1, 1))  # [B, K*C, h, w]
        return out.reshape(-1, count, self.classes, int(v.shape[2]), int(v.shape[3]))

    def perturbation_differences(self, v: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
        """Delta(s)[1] - Delta(s)[0] for each row s of `coefficients`, two classes only: [B, K, h, w].

        One 1x1 convolution with K output channels, because with two classes the perturbed
        softmax depends only on the difference of the two perturbed logits.
        """
        weight = self.probe_out.weight[:, :, 0, 0]                                      # [2, R]
        difference = self.sigma() * (weight[1] - weight[0])                             # [R]
        folded = coefficients * difference[None]                                        # [K, R]
        return F.conv2d(v, folded.reshape(int(coefficients.shape[0]), self.probes, 1, 1))

    def ambiguity(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-2 margin and entropy / ln C of softmax(logits) over dim 1: [B, 1, H, W] each.

        With two classes both follow from d = z1 - z0 without a softmax or top-k: the margin is
        |p1 - p0| = |tanh(d / 2)|, and -p ln p - (1 - p) ln(1 - p) = p softplus(-d) + (1 - p)
        softplus(d) for p = sigmoid(d). Both agree with the general forms to within 1e-6 (the
        general form clamps p at 1e-12, which changes the entropy by under 3e-11 nats).
        """
        if self.classes == 2:
            d = logits[:, 1:2] - logits[:, 0:1]
            margin = torch.abs(torch.tanh(0.5 * d))
            # sigmoid(-d) in place of 1 - sigmoid(d), which float32 rounds to 0 once |d| > about 17.
            entropy = (torch.sigmoid(d) * F.softplus(-d) + torch.sigmoid(-d) * F.softplus(d)) / math.log(2)
            return margin.detach(), entropy
        p = torch.softmax(logits, dim=1)
        top2 = p.topk(2, dim=1).values.detach()
        entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=1, keepdim=True) / math.log(self.classes)
        return top2[:, :1] - top2[:, 1:2], entropy

    def forward(self, logits: torch.Tensor, taps: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        # Resolution ratios are plain integers, so the exported graph has constant pooling
        # and resize factors (input sizes are fixed; only the batch is dynamic).
        finest = int(taps[self.taps_used[-1]].shape[-1])
        projected = []
        for proj, i in zip(self.projections, self.taps_used):
            factor = finest // int(taps[i].shape[-1])
            x = proj(taps[i])
            projected.append(F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False) if factor > 1 else x)
        h = self.fusion(torch.cat(projected, dim=1))

        stride = int(logits.shape[-1]) // finest
        z_low = F.avg_pool2d(logits, stride) if stride > 1 else logits
        p_low = torch.softmax(z_low, dim=1)
        v = self.probe_in(h)
        ones = torch.ones(1, self.probes, device=v.device)
        delta_one = self.perturbations(v, ones)[:, 0]
        residual_low = (delta_one ** 2).mean(dim=1, keepdim=True)
        if self.classes == 2:
            # The perturbed class-1 probabilities are sigmoid(d_k); class 0 has the same variance.
            d_perturbed = (z_low[:, 1:2] - z_low[:, 0:1]) + self.perturbation_differences(v, self.signs)  # [B,K,h,w]
            epistemic_low = 2 * torch.sigmoid(d_perturbed).var(dim=1, unbiased=False, keepdim=True)
        else:
            perturbed = torch.softmax(z_low[:, None] + self.perturbations(v, self.signs), dim=2)  # [B,K,C,h,w]
            epistemic_low = perturbed.var(dim=1, unbiased=False).sum(dim=1, keepdim=True)
        aleatoric_low = F.softplus(self.aleatoric_conv(h))

        margin_low, _ = self.ambiguity(z_low)
        calibration_low = F.softplus(self.calibration_conv(torch.cat(
            [torch.log1p(epistemic_low + residual_low), torch.log1p(aleatoric_low), margin_low], dim=1)))

        # One resize for the four low-resolution maps.
        low = torch.cat([epistemic_low, residual_low, aleatoric_low, calibration_low], dim=1)
        if stride > 1:
            low = F.interpolate(low, scale_factor=stride, mode="bilinear", align_corners=False)
        epistemic, residual, aleatoric, calibration = low[:, 0:1], low[:, 1:2], low[:, 2:3], low[:, 3:4]

        margin, entropy = self.ambiguity(logits)
        w = torch.exp(-self.gamma * margin)
        temperature = torch.clamp(torch.sqrt(1 + calibration), min=1.0)
        anchor = torch.log1p(epistemic) + 0.5 * torch.log1p(residual) + 0.25 * torch.log1p(calibration) + 0.25 * entropy + w
        theta_a, theta_b, theta_c = self.theta[0], self.theta[1], self.theta[2]
        rank = (1 + 0.1 * torch.tanh(theta_a)) * anchor + theta_b + F.softplus(theta_c) * w
        return {
            "tempered_logits": logits / temperature, "calibration": calibration, "rank": rank, "anchor": anchor,
            "epistemic": epistemic, "residual": residual, "aleatoric": aleatoric, "entropy": entropy,
            "margin": margin, "w": w,
            # Low-resolution terms for the trust and residual losses.
            "delta_one_low": delta_one, "p_low": p_low, "z_low": z_low, "residual_low": residual_low,
            "w_low": torch.exp(-self.gamma * margin_low),
        }


class SegWithU(nn.Module):
    def __init__(self, backbone: UNet, head: SegWithUHead):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x):
        logits, taps = self.backbone(x)
        return logits, self.head(logits, taps)
