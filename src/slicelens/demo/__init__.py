"""The planted-bug demo (``slicelens demo``): everything that exists only for the demo.

Layer 5 (beside ``api`` / ``export``): it sequences ``pipeline`` on its own data and
reads the hidden ground truth, which no other part does (they see it only as an ordinary
``ground_truth.csv`` / ``core_masks.npz`` evaluation reference beside the manifest).

Modules
-------
- :mod:`slicelens.demo.data`: the planted-bug dataset (``DemoConfig``, ``build_demo``);
- :mod:`slicelens.demo.masks`: the digits' core masks, written as the dataset's
  evaluation reference (:mod:`slicelens.evaluate.reference`);
- :mod:`slicelens.demo.planted`: how much each planted bug hurts a model;
- :mod:`slicelens.demo.run`: ``DemoRun`` (the replayable config), ``DemoState``, the
  first steps, ``STEPS`` and ``run_demo``;
- :mod:`slicelens.demo.scanner`, :mod:`~slicelens.demo.hibug`, :mod:`~slicelens.demo.tda`,
  :mod:`~slicelens.demo.aaca`: the later stages' steps (scripted annotator, simulated
  crowd, oracles that read the ground truth);
- :mod:`slicelens.demo.summary`: the closing table; :mod:`slicelens.demo.app`: how to
  open the demo in the web app.

The CLI command ``slicelens demo`` (``slicelens.cli.demo``) only parses options, calls
:func:`slicelens.demo.run.run_demo` and prints :func:`slicelens.demo.summary.demo_summary`.
Nothing is imported here, so importing one module does not load the rest (or torch).
"""
