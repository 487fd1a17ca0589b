"""The synthetic-kernel generator: a model of a small kernel, its C sources, its images and its ground truth.

``constants`` (public ntwmi/TraceLogging values, the ETW API), ``model`` (the little language: entities,
expressions, statements, functions), ``spec`` (the committed kernel written in it), ``scale`` (a random kernel
for benchmarks), ``emit`` + ``templates/`` (C sources), ``tlgblob`` (TraceLogging metadata bytes), ``truth``
(rows from the model alone), ``write`` (a kernel folder), ``build`` (images, through samples/toolchain.py),
``verify`` (the model found in the machine code), ``cli`` (``python -m samples.synth``).
"""
