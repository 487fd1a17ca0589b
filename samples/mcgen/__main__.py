"""``python -m samples.mcgen``: build, ``--sources`` or ``--check`` the mc.exe-style fixtures."""

from samples import driver
from samples.mcgen import build

raise SystemExit(driver.main(build.FIXTURES, "Build (or --check, or --sources) the mc.exe-style fixtures.",
                             prog="python -m samples.mcgen"))
