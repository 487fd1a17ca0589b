"""The WPP fixture (wppuser.dll, wppkernel.exe); built by :mod:`samples.wpp.build`."""
