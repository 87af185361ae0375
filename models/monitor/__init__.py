"""Channel monitor: KPIs per node, health index and anomaly alerts (no HTTP, no MLflow)."""
