"""The end-to-end run behind `python -m segwithu.train`: stages, fitting, export, test report."""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .calibrate import (AGGREGATE_NAMES, FrameAggregates, expected_calibration_error, fit_error_probability,
                        fit_frame_risk)
from .data import FrameSet, content_statistics, letterbox_tensor, mask_to_frame, read_split
from .export import OUTPUT_NAMES, SegWithUGraph, export_all, json_text, write_manifest, write_parity_fixture
from .metrics import auprc, auroc, aurc, dice
from .networks import SegWithU, SegWithUHead, UNet
from .train import Clock, log, normalise, predict, train_backbone, train_head
from .transforms import HEAD_TRAINING_FAMILIES, HELD_OUT_FAMILIES, corruption

FAILURE_DICE = 0.80
NEAR_CONTOUR_PX = 5
ALARM = {"enter": 0.5, "exit": 0.3, "enter_frames": 3, "exit_frames": 3}
CITATION = ("Momot, Agata (2022), \"Common Carotid Artery Ultrasound Images\", Mendeley Data, V1, "
            "doi: 10.17632/d4xt63mgjm.1")


def corrupted_copies(frames: FrameSet, families, severities, seed: int, stride: int = 1):
    """Corrupted copies of every `stride`-th frame: (images, masks, content, frame index, family, severity)."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    index = list(range(0, len(frames), stride))
    images, masks, rows = [], [], []
    for family in families:
        for severity in severities:
            transform = corruption(family, severity)
            corrupted, corrupted_masks = transform(frames.images[index], frames.masks[index], rng)
            images.append(corrupted)
            masks.append(corrupted_masks)
            rows += [(i, family, severity) for i in index]
    return torch.cat(images), torch.cat(masks), rows


def frame_dice(logits: torch.Tensor, frames: FrameSet, frame_index: list[int]) -> np.ndarray:
    """Dice at frame resolution: the model mask mapped back through the letterbox."""
    labels = logits.argmax(dim=1).numpy().astype(np.uint8)
    out = []
    for label, i in zip(labels, frame_index):
        target = frames.frame_masks[i]
        out.append(dice(mask_to_frame(label, frames.boxes[i], target.shape[1], target.shape[0]) > 0, target))
    return np.array(out)


def near_contour(logits: torch.Tensor, radius: int = NEAR_CONTOUR_PX) -> torch.Tensor:
    """Pixels within `radius` model pixels (Chebyshev) of the predicted contour."""
    prediction = (logits.argmax(dim=1, keepdim=True) == 1).float()
    k = 2 * radius + 1
    dilated = torch.nn.functional.max_pool2d(prediction, k, stride=1, padding=radius)
    eroded = 1 - torch.nn.functional.max_pool2d(1 - prediction, k, stride=1, padding=radius)
    return (dilated - eroded)[:, 0] > 0.5


@torch.no_grad()
def run_graph(graph: SegWithUGraph, images: torch.Tensor, mean: float, std: float, batch: int = 8) -> dict[str, torch.Tensor]:
    graph.eval()
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in OUTPUT_NAMES + ["entropy"]}
    for i in range(0, len(images), batch):
        x = normalise(images[i:i + batch], mean, std)
        outputs = graph(x)
        for name, value in zip(OUTPUT_NAMES, outputs):
            parts[name].append(value)
        p = torch.softmax(outputs[0], dim=1)
        parts["entropy"].append(-(p * torch.log(p.clamp_min(1e-12))).sum(dim=1, keepdim=True) / np.log(2))
    return {name: torch.cat(value) for name, value in parts.items()}


def pixel_report(scores: dict[str, torch.Tensor], errors: torch.Tensor, region: torch.Tensor) -> dict:
    e = errors[region].numpy()
    report = {"pixels": int(region.sum()), "error_rate": float(e.mean())}
    for name, score in scores.items():
        s = score[region].numpy()
        area, excess = aurc(s, e)
        report[name] = {"auroc": auroc(s, e), "auprc": auprc(s, e), "aurc": area, "e_aurc": excess}
    return report


def evaluate_pixels(outputs: dict, frames: FrameSet, masks: torch.Tensor, content: torch.Tensor) -> dict:
    logits = outputs["logits"]
    p = torch.softmax(logits, dim=1)
    top2 = p.topk(2, dim=1).values
    scores = {"rank": outputs["rank"][:, 0], "entropy": outputs["entropy"][:, 0], "margin": -(top2[:, 0] - top2[:, 1])}
    errors = logits.argmax(dim=1) != masks
    return {
        "image": pixel_report(scores, errors, content),
        "near_contour": pixel_report(scores, errors, content & near_contour(logits)),
    }


def calibration_report(outputs: dict, masks: torch.Tensor, content: torch.Tensor) -> dict:
    temperature = torch.clamp(torch.sqrt(1 + outputs["calibration"]), min=1.0)
    report = {}
    for name, logits in (("raw", outputs["logits"]), ("tempered", outputs["logits"] / temperature)):
        p1 = torch.softmax(logits, dim=1)[:, 1][content]
        y = masks[content].float()
        top = torch.maximum(p1, 1 - p1)
        correct = ((p1 > 0.5).float() == y).float()
        nll = float(-(y * torch.log(p1.clamp_min(1e-7)) + (1 - y) * torch.log((1 - p1).clamp_min(1e-7))).mean())
        report[name] = {"ece": expected_calibration_error(top, correct, 15), "nll": nll, "brier": float(((p1 - y) ** 2).mean())}
    return report


def run_recipe(args) -> int:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    smoke = getattr(args, "smoke", False)
    clock = Clock(args.time_budget_minutes * 60)
    split = read_split(args.split)
    limit = 8 if smoke else None
    log(f"loading frames from {args.data_dir} (split {args.split})")
    train = FrameSet(args.data_dir, split["train"], args.size, limit)
    validation = FrameSet(args.data_dir, split["validation"], args.size, limit)
    mean, std = content_statistics(train)
    log(f"train {len(train)} frames from {len(set(train.clip_ids))} clips, validation {len(validation)} frames; "
        f"input mean {mean:.4f} std {std:.4f}")

    backbone = UNet()
    checkpoint = args.out / "backbone.pt"
    if getattr(args, "reuse_backbone", False) and checkpoint.exists():
        backbone.load_state_dict(torch.load(checkpoint))
        log(f"reusing the trained backbone from {checkpoint}")
    else:
        steps = 6 if smoke else 100_000
        train_backbone(backbone, train, validation, mean, std, clock.until(args.backbone_share), steps,
                       batch=4 if smoke else 8, crop=128, rng=rng, validate_every=3 if smoke else 100)
        torch.save(backbone.state_dict(), checkpoint)
    backbone.eval()

    head = SegWithUHead(backbone.tap_channels, [0, 1])
    model = SegWithU(backbone, head)
    held_in = list(HEAD_TRAINING_FAMILIES)
    val_c, val_cm, _ = corrupted_copies(validation, held_in, [2], seed=11, stride=1 if smoke else 2)
    train_head(model, train, validation, val_c, val_cm, mean, std, clock.until(args.head_share), 6 if smoke else 100_000,
               batch=2 if smoke else 6, rng=rng, validate_every=3 if smoke else 80)
    model.eval()
    torch.save(model.head.state_dict(), args.out / "head.pt")

    log("fitting the error-probability map and the frame-risk model on validation clips")
    fit_images, fit_masks, fit_rows = corrupted_copies(validation, held_in, [1, 2, 3], seed=13)
    fit_images = torch.cat([validation.images, fit_images])
    fit_masks = torch.cat([validation.masks, fit_masks])
    fit_index = list(range(len(validation))) + [row[0] for row in fit_rows]
    content = validation.content[fit_index]
    typical_area = float(np.median(train.masks.sum(dim=(1, 2)).numpy()))
    aggregates = FrameAggregates(typical_area_px=typical_area)
    placeholder = SegWithUGraph(model, fit_error_probability(torch.tensor([0.0, 1.0]), torch.tensor([0, 1])),
                                aggregates, fit_frame_risk(torch.randn(4, len(AGGREGATE_NAMES)), torch.tensor([0, 1, 0, 1])))
    outputs = run_graph(placeholder, fit_images, mean, std)
    errors = outputs["logits"].argmax(dim=1) != fit_masks
    placeholder.error_probability = fit_error_probability(outputs["rank"][:, 0][content], errors[content])
    error_probability = placeholder.error_probability(outputs["rank"])
    features = aggregates(outputs["logits"], outputs["entropy"], error_probability)
    dices = frame_dice(outputs["logits"], validation, fit_index)
    failures = torch.from_numpy(dices < FAILURE_DICE)
    risk_model = fit_frame_risk(features, failures)
    graph = SegWithUGraph(model, placeholder.error_probability, aggregates, risk_model)
    risk = risk_model(features)
    fit_report = {"frames": len(fit_index), "failures": int(failures.sum()),
                  "frame_risk_auroc_in_sample": auroc(risk.numpy(), failures.numpy()),
                  "aggregate_auroc_in_sample": {n: auroc(features[:, i].numpy(), failures.numpy()) for i, n in enumerate(AGGREGATE_NAMES)}}
    log(f"validation fit: {json.dumps(fit_report)}")

    log(f"exporting ONNX to {args.out}")
    paths = export_all(graph, args.out, args.size)
    write_parity_fixture(graph, args.out, args.size, mean, std)

    report = evaluate_test(graph, args, split, mean, std, limit) if not getattr(args, "skip_test", False) else {}
    manifest = build_manifest(args, mean, std, graph, aggregates, risk_model, fit_report, report, smoke)
    write_manifest(args.out, paths, manifest)
    (args.out / "test_report.json").write_text(json_text(report))
    log(f"done in {clock.elapsed() / 60:.1f} min")
    return 0


def evaluate_test(graph, args, split, mean, std, limit) -> dict:
    log("evaluating on the test clips")
    test = FrameSet(args.data_dir, split["test"], args.size, limit)
    outputs = run_graph(graph, test.images, mean, std)
    dices = frame_dice(outputs["logits"], test, list(range(len(test))))
    report = {
        "clips": sorted(set(test.clip_ids)), "frames": len(test),
        "dice_mean": float(dices.mean()), "dice_median": float(np.median(dices)),
        "pixel_error_detection": evaluate_pixels(outputs, test, test.masks, test.content),
        "calibration": calibration_report(outputs, test.masks, test.content),
    }
    corrupted_families = list(HEAD_TRAINING_FAMILIES) + ["motion_blur"]
    images, masks, rows = corrupted_copies(test, corrupted_families, [1, 2, 3], seed=17, stride=2)
    outputs_c = run_graph(graph, images, mean, std)
    dices_c = frame_dice(outputs_c["logits"], test, [r[0] for r in rows])
    all_dice = np.concatenate([dices, dices_c])
    risk = torch.cat([outputs["frame_risk"], outputs_c["frame_risk"]]).numpy()
    logits = torch.cat([outputs["logits"], outputs_c["logits"]])
    entropy = torch.cat([outputs["entropy"], outputs_c["entropy"]])[:, 0]
    prediction = logits.argmax(dim=1) == 1
    entropy_structure = torch.where(prediction.sum(dim=(1, 2)) > 0,
                                    (entropy * prediction).sum(dim=(1, 2)) / prediction.sum(dim=(1, 2)).clamp_min(1),
                                    torch.ones(len(prediction))).numpy()
    failures = all_dice < FAILURE_DICE
    report["frame_failure"] = {
        "frames": int(len(all_dice)), "failures": int(failures.sum()), "threshold_dice": FAILURE_DICE,
        "families": corrupted_families, "held_out_families": list(HELD_OUT_FAMILIES),
        "frame_risk_auroc": auroc(risk, failures), "entropy_in_structure_auroc": auroc(entropy_structure, failures),
        "frame_risk_ece": expected_calibration_error(torch.from_numpy(risk), torch.from_numpy(failures), 10),
    }
    content_c = test.content[[r[0] for r in rows]]
    report["pixel_error_detection_corrupted"] = {}
    for family in corrupted_families:
        chosen = [i for i, r in enumerate(rows) if r[1] == family]
        subset = {k: v[chosen] for k, v in outputs_c.items()}
        report["pixel_error_detection_corrupted"][family] = evaluate_pixels(subset, test, masks[chosen], content_c[chosen])
    report["liver_sweep"] = evaluate_liver(graph, args, mean, std)
    log(f"test: Dice {report['dice_mean']:.4f}; pixel AUROC rank {report['pixel_error_detection']['image']['rank']['auroc']:.4f} "
        f"entropy {report['pixel_error_detection']['image']['entropy']['auroc']:.4f}; near contour rank "
        f"{report['pixel_error_detection']['near_contour']['rank']['auroc']:.4f} entropy "
        f"{report['pixel_error_detection']['near_contour']['entropy']['auroc']:.4f}; frame risk AUROC "
        f"{report['frame_failure']['frame_risk_auroc']:.4f} vs entropy {report['frame_failure']['entropy_in_structure_auroc']:.4f}; "
        f"liver above alarm entry {report['liver_sweep'].get('share_above_alarm_entry')}")
    return report


def evaluate_liver(graph, args, mean, std) -> dict:
    folder = args.data_dir.parent / "imfusion-liver-sweep" / "frames"
    if not folder.exists():
        return {"note": f"{folder} not found"}
    images = []
    for path in sorted(folder.glob("*.png")):
        image = torch.from_numpy(np.asarray(Image.open(path).convert("L"), dtype=np.float32))[None]
        images.append(letterbox_tensor(image, args.size, args.size)[0])
    risk = run_graph(graph, torch.stack(images), mean, std)["frame_risk"].numpy()
    return {"frames": len(risk), "share_above_alarm_entry": float((risk > ALARM["enter"]).mean()),
            "risk_median": float(np.median(risk)), "risk_min": float(risk.min())}


def build_manifest(args, mean, std, graph, aggregates, risk_model, fit_report, test_report, smoke) -> dict:
    ep = graph.error_probability.coefficients.tolist()
    return {
        "schema_version": 1,
        "model": {"id": "segwithu-carotid", "version": "smoke" if smoke else "1.0.0",
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "input": {"name": "image", "width": args.size, "height": args.size, "mean": mean, "std": std,
                  "letterbox_pad_value": 0,
                  "preprocessing": "Convert the frame to 8-bit grey; scale it to fit width x height keeping its aspect ratio "
                                   "(content size = round(frame size x scale), scale = min(width/frame width, height/frame height)), "
                                   "bilinear with half-pixel centres and no antialiasing; centre it (offset = floor(margin / 2)); "
                                   "pad with raw value 0; then (pixel / 255 - mean) / std."},
        "classes": ["background", "carotid_artery"],
        "outputs": {name: name for name in OUTPUT_NAMES},
        "tempering": "temperature = max(1, sqrt(1 + calibration)); tempered logits = logits / temperature",
        "error_probability_mapping": {"kind": "logistic", "formula": "sigmoid(slope * rank + intercept)",
                                      "slope": ep[0], "intercept": ep[1],
                                      "fitted_on": "validation clips, clean and corrupted (head-training families, severities 1-3), content pixels"},
        "frame_risk_model": {"kind": "logistic", "formula": "sigmoid(sum(weights * (aggregates - mean) / scale) + bias)",
                             "aggregates": aggregates.definition(), "mean": risk_model.mean.tolist(),
                             "scale": risk_model.scale.tolist(), "weights": risk_model.weights.tolist(),
                             "bias": float(risk_model.bias), "fit": fit_report},
        "failure_dice_threshold": FAILURE_DICE,
        "alarm": ALARM,
        "pixel_spacing_mm": None,
        "pixel_spacing_note": "The CCAUI frames carry no pixel spacing; frames from an L13-3s linear probe at carotid depth.",
        "training_data": {"name": "Common Carotid Artery Ultrasound Images (CCAUI), subset", "citation": CITATION,
                          "licence": "CC BY 4.0", "changes": "converted to 8-bit grey (ITU-R 601 luma)",
                          "split": "models/carotid/split.json"},
        "held_out_corruptions": list(HELD_OUT_FAMILIES),
        "test_metrics": {"dice": test_report.get("dice_mean"),
                         "pixel_auroc_rank": test_report.get("pixel_error_detection", {}).get("image", {}).get("rank", {}).get("auroc")},
    }
