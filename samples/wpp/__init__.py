"""The WPP fixture (wppuser.dll, wppkernel.exe): ``model`` (the images, controls, messages), ``emit`` (C and
``.tmh`` sources as tracewpp writes them), ``truth`` (from the model alone), ``annotations`` (S_ANNOTATION
records carried into the PDB after linking) and ``build`` (``python -m samples.wpp.build [--check]``)."""
