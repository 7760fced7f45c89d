"""Offline work on labelled corpora: reading them, training the model pack, scoring diagnoses.

In: corpus folders (``labels.jsonl`` + ``cases/``), the rules. Out: a model pack file and
scores (accuracy, macro-F1, per-category precision/recall). The only home of scikit-learn and
numpy, imported lazily; it may import the engine, the model and the leaves, never the guard or
a forge.
"""
