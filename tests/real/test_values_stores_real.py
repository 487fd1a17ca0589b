"""The store index of analysis/values.py (``CallValues.stores_in`` / ``stores_to``) answers what a scan of every
store the resolved functions made would, in the same order, as the engine answers more functions: checked on
ViGEmBus.sys (a real KMDF driver: its callbacks and DMF module fields are stored into structures and globals)."""

from __future__ import annotations

import pytest

from api_to_etw.analysis.values import CallValues
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.model import Addr


@pytest.fixture
def driver(real_binary):
    loaded = open_binary(str(real_binary("ViGEmBus.sys")), use_pdb=False)
    engine = NativeEngine(loaded.image, loaded.pdb)
    facts = engine.load()
    return facts, CallValues(engine)


def _scan_in(values: CallValues, functions: set[int]) -> list:
    return [s for s in values.stores if s.function in functions]


def _scan_to(values: CallValues, start: int, end: int) -> list:
    return [s for s in values.stores if isinstance(s.address, Addr) and start <= s.address.rva < end]


def test_the_index_answers_as_a_scan_while_functions_are_resolved(driver):
    facts, values = driver
    code = sorted(rva for rva, f in facts.functions.items() if not f.imported)
    for batch in (code[::2], code[1::2]):  # the index grows with each answer of the engine
        values.resolve(batch)
        makers = sorted({s.function for s in values.stores})
        assert makers, "the fixture's code stores into its structures"
        for chosen in ({makers[0]}, set(makers[::2]), set(makers)):
            assert values.stores_in(sorted(chosen)) == _scan_in(values, chosen)
        globals_ = sorted({s.address.rva for s in values.stores if isinstance(s.address, Addr)})
        assert globals_, "the fixture's code stores to globals"
        for start, end in ((globals_[0], globals_[0] + 1), (globals_[0], globals_[-1] + 1),
                           (globals_[-1] - 8, globals_[-1] + 0x40), (0, 1)):
            assert values.stores_to(start, end) == _scan_to(values, start, end)
    assert values.stores_in([]) == [] and values.stores_to(5, 5) == []
