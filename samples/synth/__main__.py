"""``python -m samples.synth ...`` (see :mod:`samples.synth.cli`)."""

import sys

from samples.synth.cli import main

sys.exit(main())
