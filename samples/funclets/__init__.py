"""The exception-handler funclet fixture (funclets.dll at three levels); built by :mod:`samples.funclets.build`."""
