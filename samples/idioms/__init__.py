"""The data-flow idiom fixture (idioms.dll at three levels); built by :mod:`samples.idioms.build`."""
