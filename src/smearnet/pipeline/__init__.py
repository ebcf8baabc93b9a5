"""The malaria classifier end to end, on top of ``smearnet.nn`` and ``smearnet.data``.

Modules: ``presets`` (model + recipe per name), ``run_dir`` (the run folder and its files),
``splitting`` (which images train, validate, test), ``train`` (the training workflow),
``checkpoint`` (per-epoch state, early stopping, resume), ``crossval`` (grouped k-fold),
``evaluate`` (metrics via scikit-learn), ``inference`` (a saved classifier as a tool),
``predict`` (loose images), ``explain`` (saliency maps), ``overfit`` (assignment 3 f),
``plots`` and ``report`` (the self-contained report.html).
"""
