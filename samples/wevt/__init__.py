"""The embedded-manifest fixture (gadget.dll, gadget_res.dll); built by :mod:`samples.wevt.build`."""
