"""AACA: concept-level data bug discovery and targeted augmentation.

The fourth seed system (paper ``000_3cd9a7c029bc65f9``, "Attribution Analysis-based
Concept Alignment"): people say, per class, which concepts confound the model (set C)
and which are valid (set V), and the repair data is chosen to move the model towards V.

Parts (each a small module; imports point down):

- :mod:`~slicelens.concepts.saliency`: integrated gradients + Monte-Carlo-dropout
  variance, ambiguous regions (step a);
- :mod:`~slicelens.concepts.answers`: one annotator's answer on one image;
- :mod:`~slicelens.concepts.store`: answers in the workspace database (history, undo);
- :mod:`~slicelens.concepts.crowd`: crowd CSV import / task export;
- :mod:`~slicelens.concepts.quality`: pre-test, majority vote, synonym unification
  (steps b1, b2);
- :mod:`~slicelens.concepts.priority`: Eq. 1 and the top-k selection (step d);
- :mod:`~slicelens.concepts.alignment`: concept distributions and their JSD (Fig. 4);
- :mod:`~slicelens.concepts.bound`: the greedy lowest JSD reachable at a budget (a
  diagnostic).
"""
