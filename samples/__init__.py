"""Test fixtures written by us, and the generators and build scripts that write and rebuild them.

``toolchain`` (the clang / lld-link invocations), ``driver`` (build and ``--check`` of every fixture),
``ctemplate`` (C template files filled from a model), ``synth`` (the synthetic-kernel generator), ``replica``
(the published output as a kernel), ``mcgen`` (mc.exe-style drivers and DLL); each other fixture folder has its
``build`` module. See README.md here.
"""
