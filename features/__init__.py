"""features: the data contract, its validation, the channel data generator and the training set.

The public entry points; everything else in the package is an implementation detail.
"""

from features.config import FeatureSpec
from features.contract import DataContractError, ValidationReport, load_validated, validate_folder
from features.engineering import Panel, TrainingSet, build_panel, build_training_set
from features.synthetic import ChannelData, generate_channel_data, write_channel_data

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
