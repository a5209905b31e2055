"""palm's HTTP server: health, metrics, the /api/v1 JSON API and adapter webhooks."""
