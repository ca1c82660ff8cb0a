"""Export the trained model to ONNX, write the manifest and the parity fixture."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .calibrate import ErrorProbability, FrameAggregates, FrameRisk
from .networks import SegWithU, UNet

OPSET = 17
OUTPUT_NAMES = ["logits", "rank", "calibration", "epistemic", "aleatoric", "error_probability", "frame_risk"]
PARITY_STRIDE = 4  # the parity fixture keeps every 4th pixel in each direction to stay small


class SegWithUGraph(nn.Module):
    """Backbone, head, error-probability map and frame risk as one graph with one input."""

    def __init__(self, model: SegWithU, error_probability: ErrorProbability, aggregates: FrameAggregates, risk: FrameRisk):
        super().__init__()
        self.model, self.error_probability, self.aggregates, self.risk = model, error_probability, aggregates, risk

    def forward(self, image):
        logits, out = self.model(image)
        error_probability = self.error_probability(out["rank"])
        frame_risk = self.risk(self.aggregates(logits, out["entropy"], error_probability))
        return logits, out["rank"], out["calibration"], out["epistemic"], out["aleatoric"], error_probability, frame_risk


class LogitsOnly(nn.Module):
    def __init__(self, backbone: UNet):
        super().__init__()
        self.backbone = backbone

    def forward(self, image):
        return self.backbone(image)[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_onnx(module: nn.Module, path: Path, size: int, output_names: list[str]) -> None:
    module.eval()
    dummy = torch.zeros(1, 1, size, size)
    axes = {"image": {0: "N"}, **{name: {0: "N"} for name in output_names}}
    torch.onnx.export(module, dummy, str(path), input_names=["image"], output_names=output_names,
                      dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)


def export_all(graph: SegWithUGraph, out_dir: Path, size: int) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"segwithu": out_dir / "segwithu.onnx", "backbone": out_dir / "backbone.onnx", "mc_dropout": out_dir / "mc_dropout.onnx"}
    backbone = graph.model.backbone
    backbone.set_mc_dropout(False)
    export_onnx(graph, paths["segwithu"], size, OUTPUT_NAMES)
    export_onnx(LogitsOnly(backbone), paths["backbone"], size, ["logits"])
    backbone.set_mc_dropout(True)
    export_onnx(LogitsOnly(backbone), paths["mc_dropout"], size, ["logits"])
    backbone.set_mc_dropout(False)
    return paths


def synthetic_parity_inputs(size: int, mean: float, std: float) -> torch.Tensor:
    """Two normalised synthetic frames: a dark disc in speckle, and a ramp with a bright band."""
    generator = torch.Generator().manual_seed(7)
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    disc = 120 + 40 * torch.randn(size, size, generator=generator)
    disc[(ys - size * 0.45) ** 2 + (xs - size * 0.5) ** 2 < (size * 0.12) ** 2] = 15
    ramp = 200 * (1 - ys / size) + 20 * torch.randn(size, size, generator=generator)
    ramp[int(size * 0.6):int(size * 0.65)] = 240
    raw = torch.stack([disc, ramp])[:, None].clamp(0, 255)
    return (raw / 255 - mean) / std


def write_parity_fixture(graph: SegWithUGraph, out_dir: Path, size: int, mean: float, std: float) -> None:
    folder = out_dir / "parity"
    folder.mkdir(parents=True, exist_ok=True)
    inputs = synthetic_parity_inputs(size, mean, std)
    with torch.no_grad():
        outputs = graph(inputs)
    inputs.numpy().astype("<f4").tofile(folder / "input.bin")
    index = {"input": {"file": "input.bin", "shape": list(inputs.shape)}, "stride": PARITY_STRIDE, "outputs": {}}
    for name, value in zip(OUTPUT_NAMES, outputs):
        array = value.numpy()
        if array.ndim == 4:
            array = array[:, :, ::PARITY_STRIDE, ::PARITY_STRIDE]
        np.ascontiguousarray(array).astype("<f4").tofile(folder / f"{name}.bin")
        index["outputs"][name] = {"file": f"{name}.bin", "full_shape": list(value.shape), "stored_shape": list(array.shape)}
    (folder / "parity.json").write_text(json.dumps(index, indent=2) + "\n")


def json_text(value) -> str:
    """JSON with NaN written as null, because JSON has no NaN and JSON.parse rejects it."""
    def clean(v):
        if isinstance(v, float) and v != v:
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    return json.dumps(clean(value), indent=2, allow_nan=False) + "\n"


def write_manifest(out_dir: Path, paths: dict[str, Path], manifest: dict) -> None:
    manifest["files"] = {name: {"path": path.name, "sha256": sha256(path), "bytes": path.stat().st_size} for name, path in paths.items()}
    (out_dir / "manifest.json").write_text(json_text(manifest))
