"""Lambda: a handler run as the Python runtime runs it, and asynchronous Invoke."""
