"""The non-x64 images of the bad-input tests; built by :mod:`samples.badinput.build`."""
