"""Operations: health gauges for alerting, ``palm doctor``, the bot's command menu,
and retention (``outbox.keep_days``)."""
