"""Smoke test of the training recipe: a few steps of each stage on synthetic frames, then export.

Runs in CI from a clean clone (about a minute on 2 cores). It writes a synthetic dataset with
the real layout (images/, masks/, manifest.csv), so it needs no downloaded data.
"""
from __future__ import annotations

import csv
import json
import random
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnx
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segwithu.calibrate import FrameAggregates, fit_error_probability, fit_frame_risk  # noqa: E402
from segwithu.data import FrameSet, content_statistics  # noqa: E402
from segwithu.export import OUTPUT_NAMES, SegWithUGraph, export_all  # noqa: E402
from segwithu.networks import SegWithU, SegWithUHead, UNet, sign_patterns  # noqa: E402
from segwithu.train import train_backbone, train_head  # noqa: E402

SIZE = 64


def write_synthetic_dataset(folder: Path, clips: dict[str, int]) -> None:
    """Dark discs (the 'vessel') on speckle, 120x100 pixels, with their masks."""
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    rng = np.random.default_rng(3)
    rows = []
    for clip, count in clips.items():
        for order in range(count):
            ys, xs = np.mgrid[0:100, 0:120]
            cy, cx, r = 40 + rng.integers(-8, 8), 60 + rng.integers(-15, 15), 14 + rng.integers(-3, 3)
            inside = (ys - cy) ** 2 + (xs - cx) ** 2 < r ** 2
            image = np.clip(110 + 45 * rng.standard_normal((100, 120)), 0, 255)
            image[inside] = np.clip(20 + 10 * rng.standard_normal(inside.sum()), 0, 255)
            name = f"{clip}_slice_{order}.png"
            Image.fromarray(image.astype(np.uint8)).save(folder / "images" / name)
            Image.fromarray((inside * 255).astype(np.uint8)).save(folder / "masks" / name)
            rows.append({"clip_id": clip, "slice_index": order, "order_in_clip": order, "filename": name})
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["clip_id", "slice_index", "order_in_clip", "filename"])
        writer.writeheader()
        writer.writerows(rows)


class RecipeSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        torch.manual_seed(0)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name)
        write_synthetic_dataset(cls.root / "data", {"clipA": 6, "clipB": 3})
        cls.train = FrameSet(cls.root / "data", ["clipA"], SIZE)
        cls.validation = FrameSet(cls.root / "data", ["clipB"], SIZE)
        cls.mean, cls.std = content_statistics(cls.train)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_sign_patterns_last_all_positive(self):
        signs = sign_patterns(8)
        self.assertEqual(tuple(signs.shape), (8, 8))
        self.assertTrue(bool((signs[-1] == 1).all()))
        self.assertTrue(bool((signs[0] == torch.tensor([1, 1, 1, 1, -1, -1, -1, -1.0])).all()))

    def test_stages_lower_loss_and_export(self):
        rng = random.Random(0)
        backbone = UNet()
        far_future = float("inf")
        losses = train_backbone(backbone, self.train, self.validation, self.mean, self.std, far_future, 24,
                                batch=4, crop=SIZE, rng=rng, augment=False, validate_every=12)
        self.assertEqual(len(losses), 24)
        self.assertLess(np.mean(losses[-4:]), np.mean(losses[:4]), "backbone loss did not fall")

        model = SegWithU(backbone.eval(), SegWithUHead(backbone.tap_channels, [0, 1]))
        head_losses = train_head(model, self.train, self.validation, self.validation.images, self.validation.masks,
                                 self.mean, self.std, far_future, 20, batch=3, rng=rng, augment=False, validate_every=10)
        self.assertLess(np.mean(head_losses[-4:]), np.mean(head_losses[:4]), "head loss did not fall")
        self.assertTrue(all(not p.requires_grad for p in backbone.parameters()), "backbone must stay frozen")

        images = (self.validation.images / 255 - self.mean) / self.std
        error_probability = fit_error_probability(torch.randn(100), torch.rand(100) > 0.7)
        risk = fit_frame_risk(torch.randn(10, 5), torch.arange(10) % 2)
        graph = SegWithUGraph(model.eval(), error_probability, FrameAggregates(typical_area_px=200.0), risk).eval()
        with torch.no_grad():
            outputs = graph(images)
        n = len(images)
        expected = {"logits": (n, 2, SIZE, SIZE), "frame_risk": (n,)}
        for name, value in zip(OUTPUT_NAMES, outputs):
            self.assertEqual(tuple(value.shape), expected.get(name, (n, 1, SIZE, SIZE)), name)
        self.assertTrue(bool(((outputs[5] >= 0) & (outputs[5] <= 1)).all()), "error probability outside [0, 1]")

        paths = export_all(graph, self.root / "export", SIZE)
        for name, path in paths.items():
            proto = onnx.load(str(path))
            onnx.checker.check_model(proto)
            outputs_in_graph = [o.name for o in proto.graph.output]
            self.assertEqual(outputs_in_graph, OUTPUT_NAMES if name == "segwithu" else ["logits"], name)
            batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
            self.assertEqual(batch_dim.dim_param, "N", f"{name}: batch dimension must be dynamic")
        ops = {node.op_type for node in onnx.load(str(paths["mc_dropout"])).graph.node}
        self.assertIn("RandomUniformLike", ops, "MC-dropout graph must draw new masks on every run")


if __name__ == "__main__":
    unittest.main()
