"""Forges: the only code that talks to GitHub or GitLab. See :mod:`.base` and :mod:`.all_forges`."""
