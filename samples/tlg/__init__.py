"""The TraceLogging fixture (tlg.dll); built by :mod:`samples.tlg.build`."""
