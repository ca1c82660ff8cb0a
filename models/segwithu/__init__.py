"""Training recipe for the SegWithU carotid model that segwithu-live serves.

Modules: data (datasets and the letterbox), transforms (augmentation and corruptions),
networks (U-Net backbone and SegWithU head), losses (the seven head loss terms),
train (the two training stages), calibrate (error-probability mapping and frame risk),
export (ONNX files, manifest and parity fixture).
"""
