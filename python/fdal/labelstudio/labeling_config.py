"""A project's labeling config read back: the class names of the campaign's Choices control, to
check a project against a campaign. The config itself, the control names and the task format are
fdal.campaign.labelstudio_format's (one place); that module's XML-escaped names (quotes, <, &,
non-ASCII) come back here unchanged through a real XML parser.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import List

from fdal.campaign.labelstudio_format import FROM_NAME as CHOICES_NAME
from fdal.campaign.labelstudio_format import TO_NAME as IMAGE_NAME
from fdal.campaign.labelstudio_format import labeling_config

IMAGE_FIELD = IMAGE_NAME  # the task data field holding the image URL ($image)

__all__ = ["CHOICES_NAME", "IMAGE_NAME", "IMAGE_FIELD", "labeling_config", "config_classes"]


def config_classes(config: str) -> List[str]:
    """The choice values of the Choices control named CHOICES_NAME in a project's labeling config,
    in order; ValueError when the config is not XML or has no such control."""
    try:
        root = ET.fromstring(config)
    except ET.ParseError as exc:
        raise ValueError(f"the project's labeling config is not valid XML ({exc})") from None
    for choices in root.iter("Choices"):
        if choices.get("name") == CHOICES_NAME:
            return [c.get("value", "") for c in choices.iter("Choice")]
    raise ValueError(f'the project\'s labeling config has no <Choices name="{CHOICES_NAME}"> control '
                     "(it was not made by fdal for a campaign)")
