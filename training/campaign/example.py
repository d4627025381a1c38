"""`fdal cycle example DIR`: a folder of unlabeled PNG images to run a campaign on, with nothing to
download (docs/workflow.md's worked example).

The images are the quickstart's generated shapes (data.make_synthetic, 10 classes, seed 0: the
classes `fdal train-teacher --dataset synthetic` trains on, other images than its 2,000):
    DIR/photos/img-00000.png ...     the pool (no labels in the names)
    DIR/heldout/<class>/...png       a labeled held-out folder for `fdal cycle train --heldout`
    DIR/truth.csv                    file,label of every pool image, keyed as the campaign keys them
                                     (photos/img-00000.png): the answers of a simulated annotator
"""
from __future__ import annotations

import csv
import os
from pathlib import Path


def write_example(folder, n_images: int = 3000, n_heldout: int = 500, seed: int = 0) -> dict:
    from PIL import Image
    from fdal.training.data import make_synthetic
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise ValueError(f"{folder} exists and is not empty; give a new folder")
    if n_images == 2000:
        n_images += 1  # 2,000 would render exactly the teacher's own training images
    ds = make_synthetic(10, n_images, n_heldout, seed=seed)
    photos = folder / "photos"
    photos.mkdir(parents=True)
    rows = []
    for i, (img, y) in enumerate(zip(ds.train_x.permute(0, 2, 3, 1).numpy(), ds.train_y.tolist())):
        name = f"img-{i:05d}.png"
        Image.fromarray(img).save(photos / name)
        rows.append((f"photos/{name}", ds.classes[y]))
    for i, (img, y) in enumerate(zip(ds.test_x.permute(0, 2, 3, 1).numpy(), ds.test_y.tolist())):
        d = folder / "heldout" / ds.classes[y]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(d / f"test-{i:05d}.png")
    with open(folder / "truth.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "label"])
        w.writerows(rows)
    return {"images": len(rows), "heldout": int(len(ds.test_y)), "classes": list(ds.classes),
            "photos": os.fspath(photos)}
