"""The one error type of the registry: which file, which field, what is wrong."""

from pathlib import Path


class ContractError(ValueError):
    """A contract or registry file is invalid; names the file and the field."""

    def __init__(self, path: Path | str, field: str, message: str) -> None:
        self.path = Path(path)
        self.field = field
        self.message = message
        super().__init__(f"{self.path}: {field}: {message}")
