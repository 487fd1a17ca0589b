"""``python -m samples [--check | --sources] [FIXTURE ...]``: build, write or check every committed fixture."""

import sys

from samples import driver

sys.exit(driver.main(driver.all_fixtures(), "Build (or --check, or --sources) the committed fixtures.",
                     prog="python -m samples"))
