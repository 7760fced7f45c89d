"""The command line: argument parsing (``main``), one module per sub-command (``commands/``),
terminal rendering (``render``) and the one place errors become a message and an exit code
(``error_handler``).

The environment is read here (and in each forge's context reader) and passed down as values.
The top layer: it may import every other part.
"""
