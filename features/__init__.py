"""features: the data contract, its validation, the channel data generator and the training set.

The public entry points; everything else in the package is an implementation detail.
"""

from features.config import FeatureSpec
from features.errors import DataContractError
from features.history import Panel, build_panel
from features.synthetic import ChannelData, generate_channel_data, write_channel_data
from features.training_set import TrainingSet, build_training_set
from features.validation import ValidationReport, load_validated, validate_folder

__all__ = [
    "ChannelData",
    "DataContractError",
    "FeatureSpec",
    "Panel",
    "TrainingSet",
    "ValidationReport",
    "build_panel",
    "build_training_set",
    "generate_channel_data",
    "load_validated",
    "validate_folder",
    "write_channel_data",
]
