"""The service's settings: read from the environment at the entry point only.

`Settings.from_env(os.environ)` is called by `channelcast serve` and by the uvicorn factory
`serving.app:app_from_env`; library code and tests build `Settings(...)` directly.

Environment variables:
    CHANNELCAST_DATABASE_URL   service records (default: sqlite:///channelcast.db in the
                               working folder; PostgreSQL: postgresql+psycopg://...)
    CHANNELCAST_MODEL_URI      model to serve (default models:/channelcast-demand@champion)
    CHANNELCAST_DATA           data folder with nodes, inventory, central_stock (optional)
    CHANNELCAST_MAX_BODY_BYTES request size limit (default 5 MiB)
    CHANNELCAST_SYNC_SECONDS   how often a worker picks up other workers' changes (default 2)
    CHANNELCAST_MAX_PERIODS_AHEAD  how many periods after the model's origin posted
                               sell-through (and inventory `as_of`) may reach (default 4)
    CHANNELCAST_IDEMPOTENCY_LEASE_SECONDS  how long a request in flight holds its
                               Idempotency-Key before a retry may take it over (default 60)
    CHANNELCAST_BODY_TIMEOUT_SECONDS  a request body not received in full within this
                               time is answered 408 and the connection closed (default 15)
    CHANNELCAST_WEBHOOK_URL    where alert changes are POSTed (optional; none: no webhooks)
    CHANNELCAST_WEBHOOK_SECRET HMAC-SHA256 key that signs each webhook body (header
                               `X-Channelcast-Signature: sha256=<hex>`)
    CHANNELCAST_WEBHOOK_ATTEMPTS  delivery attempts per message, backing off exponentially
                               from 0.5 s (default 6)
    CHANNELCAST_REPORTS_DIR    where generated monthly reports are written (default: `reports`
                               in CHANNELCAST_DATA, or in the working folder without one)
    CHANNELCAST_REPORT_LANGS   languages of the reports generated when a month closes,
                               comma-separated (default en)
    CHANNELCAST_REPORT_CHECK_SECONDS  how often a closed month without a report is looked
                               for (default 86400, 0 = never; sell-through of a new month
                               triggers it too)
    MLFLOW_TRACKING_URI        tracking and registry store (default: the one training and the
                               CLI use, `mlflow.db` in the project folder, whatever the
                               working folder: the same champion everywhere)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from training.tracking.settings import store_settings

__all__ = ["DEFAULT_DATABASE_URL", "DEFAULT_MODEL_URI", "Settings"]

DEFAULT_DATABASE_URL = "sqlite:///channelcast.db"
DEFAULT_MODEL_URI = "models:/channelcast-demand@champion"
DEFAULT_TRACKING_URI = store_settings({}).tracking_uri


@dataclass(frozen=True)
class Settings:
    """Where the service finds its database, model and data, and its limits.

    Attributes:
        database_url: SQLAlchemy URL of the service's own records.
        model_uri: MLflow model URI loaded at startup and on reload.
        tracking_uri: MLflow tracking/registry URI the model URI resolves against.
        data_dir: data folder (nodes, inventory, central_stock); None = the model's nodes,
            inventory and central stock only from `PUT /v1/inventory`.
        max_body_bytes: larger request bodies are refused with 413.
        max_series: most series one forecast request may ask for.
        key_cache_seconds: how long a checked API key is trusted without the database
            (revocations from another process take effect within this time).
        sync_seconds: how often a worker polls the database for snapshots, sell-through and
            reloads made by other workers (0 = never).
        max_periods_ahead: posted sell-through must fall in the first this many periods
            after the model's origin, and an inventory `as_of` no later than this many
            periods after the origin or today (a plausibility window: a mistyped year
            must not move the model's origin).
        idempotency_lease_seconds: how long a request in flight holds its
            Idempotency-Key; after that a retry may take the key over (a crashed request
            never leaves it stuck; see `serving.idempotency`).
        body_timeout_seconds: a request body not received in full within this time is
            answered 408 and its connection closed.
        webhook_url: where alert changes are POSTed (None: no webhooks).
        webhook_secret: key of the HMAC-SHA256 signature of each webhook body.
        webhook_attempts: delivery attempts per message (exponential backoff between them).
        webhook_backoff_seconds: the first wait between attempts (doubles, at most 60 s).
        reports_dir: folder of the generated monthly reports (None: `reports` in `data_dir`,
            or in the working folder).
        report_langs: languages generated when a month closes (en, zh).
        report_check_seconds: interval of the check for a closed month without a report
            (0 = never; the first check runs a minute after startup).
        monitor: compute alerts when sell-through or inventory arrives.
        load_model: load the model at startup (tests may start without one).
        migrate: run the Alembic migrations at startup.
    """

    database_url: str = DEFAULT_DATABASE_URL
    model_uri: str = DEFAULT_MODEL_URI
    tracking_uri: str = DEFAULT_TRACKING_URI
    data_dir: Path | None = None
    max_body_bytes: int = 5 * 1024 * 1024
    max_series: int = 10_000
    key_cache_seconds: float = 2.0
    sync_seconds: float = 2.0
    max_periods_ahead: int = 4
    idempotency_lease_seconds: float = 60.0
    body_timeout_seconds: float = 15.0
    webhook_url: str | None = None
    webhook_secret: str = ""
    webhook_attempts: int = 6
    webhook_backoff_seconds: float = 0.5
    reports_dir: Path | None = None
    report_langs: tuple[str, ...] = ("en",)
    report_check_seconds: float = 86_400.0
    monitor: bool = True
    load_model: bool = True
    migrate: bool = True

    def __post_init__(self) -> None:
        if self.max_periods_ahead < 1:
            raise ValueError("`max_periods_ahead` (CHANNELCAST_MAX_PERIODS_AHEAD) must be >= 1;"
                             f" got {self.max_periods_ahead}.")
        if self.idempotency_lease_seconds <= 0 or self.body_timeout_seconds <= 0:
            raise ValueError("`idempotency_lease_seconds` (CHANNELCAST_IDEMPOTENCY_LEASE_SECONDS)"
                             " and `body_timeout_seconds` (CHANNELCAST_BODY_TIMEOUT_SECONDS) "
                             f"must be > 0; got {self.idempotency_lease_seconds} and "
                             f"{self.body_timeout_seconds}.")
        if self.webhook_url is not None and not self.webhook_url.startswith(("http://",
                                                                            "https://")):
            raise ValueError("`webhook_url` (CHANNELCAST_WEBHOOK_URL) must be an http:// or "
                             f"https:// URL; got {self.webhook_url!r}.")
        if not self.report_langs or not set(self.report_langs) <= {"en", "zh"}:
            raise ValueError("`report_langs` (CHANNELCAST_REPORT_LANGS) must be a comma-"
                             f"separated list of en and zh; got {self.report_langs!r}.")
        if self.webhook_attempts < 1:
            raise ValueError("`webhook_attempts` (CHANNELCAST_WEBHOOK_ATTEMPTS) must be >= 1; "
                             f"got {self.webhook_attempts}.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from environment variables (pass `os.environ`)."""
        data = environ.get("CHANNELCAST_DATA")
        return cls(
            database_url=environ.get("CHANNELCAST_DATABASE_URL") or DEFAULT_DATABASE_URL,
            model_uri=environ.get("CHANNELCAST_MODEL_URI") or DEFAULT_MODEL_URI,
            tracking_uri=store_settings(environ).tracking_uri,
            data_dir=Path(data) if data else None,
            max_body_bytes=int(environ.get("CHANNELCAST_MAX_BODY_BYTES") or 5 * 1024 * 1024),
            sync_seconds=float(environ.get("CHANNELCAST_SYNC_SECONDS") or 2.0),
            max_periods_ahead=int(environ.get("CHANNELCAST_MAX_PERIODS_AHEAD") or 4),
            idempotency_lease_seconds=float(
                environ.get("CHANNELCAST_IDEMPOTENCY_LEASE_SECONDS") or 60.0),
            body_timeout_seconds=float(environ.get("CHANNELCAST_BODY_TIMEOUT_SECONDS") or 15.0),
            webhook_url=environ.get("CHANNELCAST_WEBHOOK_URL") or None,
            webhook_secret=environ.get("CHANNELCAST_WEBHOOK_SECRET") or "",
            webhook_attempts=int(environ.get("CHANNELCAST_WEBHOOK_ATTEMPTS") or 6),
            reports_dir=Path(reports) if (reports := environ.get("CHANNELCAST_REPORTS_DIR"))
            else None,
            report_langs=tuple(x.strip() for x in (environ.get("CHANNELCAST_REPORT_LANGS")
                                                   or "en").split(",") if x.strip()),
            report_check_seconds=float(environ.get("CHANNELCAST_REPORT_CHECK_SECONDS")
                                       or 86_400.0),
        )

    @property
    def reports_folder(self) -> Path:
        """Where generated reports are written (`reports_dir` or its default)."""
        if self.reports_dir is not None:
            return self.reports_dir
        return (self.data_dir or Path()) / "reports"

    def to_env(self) -> dict[str, str]:
        """The environment variables that make `from_env` return these settings."""
        env = {"CHANNELCAST_DATABASE_URL": self.database_url,
               "CHANNELCAST_MODEL_URI": self.model_uri,
               "MLFLOW_TRACKING_URI": self.tracking_uri,
               "CHANNELCAST_MAX_BODY_BYTES": str(self.max_body_bytes),
               "CHANNELCAST_SYNC_SECONDS": str(self.sync_seconds),
               "CHANNELCAST_MAX_PERIODS_AHEAD": str(self.max_periods_ahead),
               "CHANNELCAST_IDEMPOTENCY_LEASE_SECONDS": str(self.idempotency_lease_seconds),
               "CHANNELCAST_BODY_TIMEOUT_SECONDS": str(self.body_timeout_seconds)}
        if self.data_dir is not None:
            env["CHANNELCAST_DATA"] = str(self.data_dir)
        if self.reports_dir is not None:
            env["CHANNELCAST_REPORTS_DIR"] = str(self.reports_dir)
        env["CHANNELCAST_REPORT_LANGS"] = ",".join(self.report_langs)
        env["CHANNELCAST_REPORT_CHECK_SECONDS"] = str(self.report_check_seconds)
        if self.webhook_url is not None:
            env["CHANNELCAST_WEBHOOK_URL"] = self.webhook_url
            env["CHANNELCAST_WEBHOOK_SECRET"] = self.webhook_secret
            env["CHANNELCAST_WEBHOOK_ATTEMPTS"] = str(self.webhook_attempts)
        return env
