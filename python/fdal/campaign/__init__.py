"""A labeling campaign on a user's own images: the state behind `fdal cycle` (docs/workflow.md).

    state.py               the project folder: campaign.json (written atomically), the lock, paths
    pool.py                the pool: image folders and .npy files, file keys, content digests
    pixel_cache.py         the decoded uint8 pool, cached once per campaign (content-addressed)
    labelstudio_format.py  Label Studio tasks (with predictions) and its JSON export, as pure functions
    labels.py              `fdal cycle import`: Label Studio exports and CSVs checked, then applied
    pick.py                `fdal cycle pick`: the first draw, later rounds ranked by the native runtime
    status.py              `fdal cycle status`

Runtime side only (numpy, Pillow for image files); training a round's student lives in
fdal.training.campaign (PyTorch).
"""
