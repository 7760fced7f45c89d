"""One module per sub-command; :mod:`pipeline_guard.main` only parses arguments and dispatches."""
