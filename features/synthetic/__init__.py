"""The synthetic channel generator: network, catalog, demand and stock of a seeded channel."""

from features.synthetic.generate import (
    DEMAND,
    ChannelData,
    generate_channel_data,
    summarize,
    write_channel_data,
)

__all__ = ["DEMAND", "ChannelData", "generate_channel_data", "summarize", "write_channel_data"]
