"""The HTTP service (``whence serve`` starts it): the FastAPI app, its routes, settings, API keys and
usage, rate limits and the pool of search processes.  It imports nothing from the CLI (``whence.cli``)."""
