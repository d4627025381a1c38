"""The labeling config of a campaign's Label Studio project: one image and one single-choice
control whose choices are the class names, in the campaign's order.

    <View>
      <Image name="image" value="$image"/>
      <Choices name="label" toName="image" choice="single" showInLine="true">
        <Choice value="cat"/> ...
      </Choices>
    </View>

Tasks carry the image URL in data.image; predictions and annotations name the control
(from_name "label", to_name "image", type "choices"). Class names are XML-escaped attribute values,
so any name (quotes, <, &, non-ASCII) round-trips; config_classes reads them back with a real
XML parser to check a project against a campaign.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import List, Sequence
from xml.sax.saxutils import quoteattr

IMAGE_NAME = "image"       # the <Image> tag's name: to_name of every result
CHOICES_NAME = "label"     # the <Choices> tag's name: from_name of every result
IMAGE_FIELD = "image"      # the task data field holding the image URL ($image)


def check_class_names(classes: Sequence[str]) -> List[str]:
    """The names as a list; ValueError for an empty list, a blank or duplicate name, or control
    characters (an XML attribute cannot hold them)."""
    names = [str(c) for c in classes]
    if not names:
        raise ValueError("a labeling config needs at least one class name")
    seen = set()
    for name in names:
        if not name.strip():
            raise ValueError(f"class names must not be blank, got {names}")
        if any(ord(ch) < 32 for ch in name):
            raise ValueError(f"class name {name!r} contains a control character")
        if name in seen:
            raise ValueError(f"class name {name!r} appears twice in {names}")
        seen.add(name)
    return names


def labeling_config(classes: Sequence[str]) -> str:
    """The XML labeling config for `classes` (see the module docstring)."""
    choices = "\n".join(f"    <Choice value={quoteattr(name)}/>" for name in check_class_names(classes))
    return (f'<View>\n  <Image name="{IMAGE_NAME}" value="${IMAGE_FIELD}"/>\n'
            f'  <Choices name="{CHOICES_NAME}" toName="{IMAGE_NAME}" choice="single" showInLine="true">\n'
            f"{choices}\n  </Choices>\n</View>\n")


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
