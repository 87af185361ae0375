"""The data contract: reading, validating, reporting and storing a channel's tables."""

from features.contract.errors import DataContractError
from features.contract.report import ValidationReport
from features.contract.validation import load_validated, validate_folder

__all__ = ["DataContractError", "ValidationReport", "load_validated", "validate_folder"]
