"""One module per sub-command; :mod:`pipeline_guard.cli.main` only parses arguments and
dispatches."""
