"""Operations: health gauges for alerting, ``palm doctor``, the bot's command menu,
retention (``outbox.keep_days``), Redis Sentinel and replica acknowledgements
(``sentinel``, ``replication``), and the task dump on ``SIGUSR1`` (``dump``)."""
