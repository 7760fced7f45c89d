"""The model pack at inference: a linear classifier of log lines stored as plain data.

In: a pack file (``.npz``, format in :mod:`.pack`) and cleaned log lines. Out: a
:class:`~pipeline_guard.engine.prediction.Prediction` the engine combines with rule matches.
Standard library only (no numpy, no scikit-learn: start-up time); it may import the engine's
``prediction`` protocol and the leaves. Training lives in :mod:`pipeline_guard.lab`.
"""
