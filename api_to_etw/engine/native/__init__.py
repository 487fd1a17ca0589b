"""The default engine: pefile, pdbparse and iced-x86, runs anywhere Python does."""
