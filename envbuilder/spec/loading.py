"""Loading YAML files into pydantic models with errors that name the file, the field and why."""

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from envbuilder.errors import InputError

Model = TypeVar("Model", bound=BaseModel)


def load_yaml_model(path: Path, model: type[Model]) -> Model:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping at the top level, found {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InputError(f"{path}: invalid:\n{describe_validation_error(error)}") from None


def describe_validation_error(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"  {field}: {problem['msg']}")
    return "\n".join(lines)
