"""Fixers: mechanical fixes made and verified in the workspace. See :mod:`.base`."""
