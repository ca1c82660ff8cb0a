"""Re-export a trained model with the current graph code, without training again.

Use it when only the exported form changes (for example the two-class head, which computes the
same maps without softmax and top-k). It loads OUT/backbone.pt, the head from OUT/head.pt or,
when that is missing, from the head parameters inside OUT/segwithu.onnx, and the error-probability
and frame-risk fits from OUT/manifest.json and the ONNX file. Before it overwrites anything, it
checks the new graph against the parity fixture the old export wrote (the old graph's outputs on
two synthetic frames) and stops when any output moves by more than the tolerance.

    /usr/bin/python3 -m models.segwithu.reexport --out models/carotid --version 1.1.0
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .calibrate import ErrorProbability, FrameAggregates, FrameRisk
from .export import OUTPUT_NAMES, SegWithUGraph, export_all, write_manifest, write_parity_fixture
from .networks import SegWithU, SegWithUHead, UNet

# Largest |new - old| allowed on the parity fixture, relative to the largest |old| of that output.
PARITY_TOLERANCE = 1e-4


def log(message: str) -> None:
    print(f"[reexport] {message}", flush=True)


def head_from_onnx(path: Path, head: SegWithUHead) -> None:
    """Copies the head parameters out of an exported segwithu.onnx into `head`.

    Most keep their module names in the file (model.head.*). Constant folding renamed four:
    probe_out.weight[:, :, 0, 0] is the [classes, probes] constant multiplied by sigma, and
    theta = (a, b, c) are the scalars read by the head's Tanh (a), its last scalar Add (b) and
    its Softplus (c) of a constant.
    """
    model = onnx.load(str(path))
    initializers = {item.name: numpy_helper.to_array(item) for item in model.graph.initializer}
    state = {name[len("model.head."):]: torch.from_numpy(value.copy())
             for name, value in initializers.items() if name.startswith("model.head.")}

    def constant_inputs(node) -> list[np.ndarray]:
        return [initializers[name] for name in node.input if name in initializers]

    head_nodes = [node for node in model.graph.node if node.name.startswith("/model/head/")]
    probe_out = [value for node in head_nodes if node.op_type == "Mul" for value in constant_inputs(node)
                 if value.shape == (head.classes, head.probes)]
    tanh = [value for node in head_nodes if node.op_type == "Tanh" for value in constant_inputs(node) if value.ndim == 0]
    softplus = [value for node in head_nodes if node.op_type == "Softplus" for value in constant_inputs(node) if value.ndim == 0]
    scalar_adds = [value for node in head_nodes if node.op_type == "Add" for value in constant_inputs(node) if value.ndim == 0]
    if len(probe_out) != 1 or len(tanh) != 1 or len(softplus) != 1 or not scalar_adds:
        raise SystemExit(f"{path}: the folded head constants were not found as expected (probe_out {len(probe_out)}, "
                         f"tanh {len(tanh)}, softplus {len(softplus)}, scalar adds {len(scalar_adds)}); "
                         "re-export from head.pt instead")
    state["probe_out.weight"] = torch.from_numpy(probe_out[0].copy())[:, :, None, None]
    state["theta"] = torch.tensor([float(tanh[0]), float(scalar_adds[-1]), float(softplus[0])])
    state["signs"] = head.signs
    head.load_state_dict(state)


def risk_from_onnx(path: Path, risk: FrameRisk) -> None:
    model = onnx.load(str(path))
    initializers = {item.name: numpy_helper.to_array(item) for item in model.graph.initializer}
    risk.load_state_dict({name: torch.from_numpy(np.array(initializers[f"risk.{name}"])) for name in ("mean", "scale", "weights", "bias")})


def check_parity(graph: SegWithUGraph, out: Path) -> dict[str, float]:
    """Returns, per output, max |new - old| / max |old| on the parity fixture the old export wrote."""
    folder = out / "parity"
    index = json.loads((folder / "parity.json").read_text())
    shape = index["input"]["shape"]
    inputs = torch.from_numpy(np.fromfile(folder / index["input"]["file"], dtype="<f4").reshape(shape))
    with torch.no_grad():
        outputs = graph(inputs)
    stride = index["stride"]
    errors = {}
    for name, value in zip(OUTPUT_NAMES, outputs):
        entry = index["outputs"][name]
        old = np.fromfile(folder / entry["file"], dtype="<f4").reshape(entry["stored_shape"])
        new = value.numpy()
        if new.ndim == 4:
            new = new[:, :, ::stride, ::stride]
        errors[name] = float(np.abs(new - old).max() / max(np.abs(old).max(), 1e-12))
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models/carotid"), help="model folder (default models/carotid)")
    parser.add_argument("--version", required=True, help="model version to write into manifest.json, for example 1.1.0")
    parser.add_argument("--note", default="re-exported with the two-class head; weights and fits unchanged",
                        help="text for manifest.model.export_note")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)

    manifest = json.loads((args.out / "manifest.json").read_text())
    size = manifest["input"]["width"]
    backbone_path = args.out / "backbone.pt"
    if not backbone_path.exists():
        raise SystemExit(f"{backbone_path} not found; it is written by `npm run train` next to the ONNX files")

    backbone = UNet()
    backbone.load_state_dict(torch.load(backbone_path))
    backbone.eval()
    head = SegWithUHead(backbone.tap_channels, [0, 1])
    head_path = args.out / "head.pt"
    if head_path.exists():
        head.load_state_dict(torch.load(head_path))
        log(f"head from {head_path}")
    else:
        head_from_onnx(args.out / "segwithu.onnx", head)
        log(f"head recovered from {args.out / 'segwithu.onnx'} ({head_path} not found)")
        torch.save(head.state_dict(), head_path)

    mapping = manifest["error_probability_mapping"]
    aggregates_config = manifest["frame_risk_model"]["aggregates"]
    aggregates = FrameAggregates(band_px=aggregates_config["band_px"], far_px=aggregates_config["far_px"],
                                 missed_cutoff=aggregates_config["missed_cutoff"], typical_area_px=aggregates_config["typical_area_px"])
    risk = FrameRisk()
    risk_from_onnx(args.out / "segwithu.onnx", risk)
    graph = SegWithUGraph(SegWithU(backbone, head), ErrorProbability(mapping["slope"], mapping["intercept"]), aggregates, risk)
    graph.eval()

    errors = check_parity(graph, args.out)
    log("parity against the previous export, max |new - old| / max |old|: "
        + ", ".join(f"{name} {error:.2e}" for name, error in errors.items()))
    if max(errors.values()) > PARITY_TOLERANCE:
        log(f"an output moved by more than {PARITY_TOLERANCE:g}; nothing written")
        return 1

    paths = export_all(graph, args.out, size)
    input_config = manifest["input"]
    write_parity_fixture(graph, args.out, size, input_config["mean"], input_config["std"])
    manifest["model"]["version"] = args.version
    manifest["model"]["export_note"] = args.note
    write_manifest(args.out, paths, manifest)
    log(f"wrote {', '.join(str(path) for path in paths.values())}, parity/ and manifest.json (version {args.version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
