"""template.yaml as data: CloudFormation's short tags (`!Ref X`, `!Sub s`...) read as their long
forms (`{"Ref": "X"}`, `{"Fn::Sub": s}`), so tests look at what CloudFormation sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that only adds constructors for the CloudFormation tags."""


def _long_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix in {"Ref", "Condition"}:
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _long_form)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as a dict."""
    text = path.read_text(encoding="utf-8")
    # A SafeLoader subclass that only adds constructors for the CloudFormation tags.
    loaded: dict[str, Any] = yaml.load(text, Loader=_CloudFormationLoader)  # noqa: S506
    return loaded
