"""The user-mode ETW fixture (telemetry.dll); built by :mod:`samples.usermode.build`."""
