"""mc.exe-style fixtures: kernel drivers (``mc -km``; WDM and KMDF), a user-mode DLL and a UMDF 2 driver DLL
(``mc -um``) with their ground truth, one module a job:

* ``model``: the little model every image is written in (the manifest provider's events, the functions with
  their C bodies, calls, writes and entry kinds, the image);
* ``spec``: the images in it (``mcdriver``, ``mcdll``, ``mckmdf``; ``mcumdf`` from ``umdf``, the UMDF 2 driver);
* ``emit``: the C sources written from a model: ``<name>events.h`` laid out as mc.exe's generated headers are
  (from the documented structure, not copied), ``<name>.c``, the ``.def`` files of its imports and the
  documented-layout headers of samples/templates copied verbatim;
* ``truth``: the rows the analyzer must report, computed from the model alone (rules in its docstring);
* ``build``: sources, truth and the ``O1/``, ``O2/``, ``Os/`` images of each fixture (samples/toolchain.py).

Usage::

  python -m samples.mcgen [mcdriver|mcdll|mckmdf|mcumdf ...]   write sources and truth.json, build every level
  python -m samples.mcgen --sources [SAMPLE ...]          sources and truth.json only
  python -m samples.mcgen --check [SAMPLE ...]            committed sources/truth equal the model's; rebuild in
                                                          a temporary folder and compare images and PDBs
"""
