"""The channelcast service (FastAPI): forecasts, allocations and stock risk over HTTP, with
API keys and roles, recorded decisions and an audit log in a relational database.

Start it with `channelcast serve`; build it in code with `create_app(Settings(...))`.
"""

from serving.app import create_app
from serving.settings import Settings

__all__ = ["Settings", "create_app"]
