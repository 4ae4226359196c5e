"""Hot reload, admin pins, the poller, the worker board. May import: log, http, config, engine."""
