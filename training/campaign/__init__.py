"""The training side of `fdal cycle` (the campaign's state lives in fdal.campaign, torch-free):

    pool_dataset.py   the campaign's pool as a training Dataset (uint8, memory-mapped) and a
                      held-out labeled folder, both read through fdal.image_folder.decode
    train.py          `fdal cycle train`: one round's student, its int8 export, the report
    first_round.py    `fdal cycle pick --first typicality`: round 1 by the teacher's embedding
    example.py        `fdal cycle example`: generated PNG images to try a campaign on
"""
from . import example, first_round, pool_dataset, train

__all__ = ["example", "first_round", "pool_dataset", "train"]
