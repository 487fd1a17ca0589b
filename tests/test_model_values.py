"""Value-set helpers of the walk (model.py): framing a caller's argument set, and the choices of one value per role."""

from __future__ import annotations

from api_to_etw.model import (
    UNKNOWN,
    Addr,
    Const,
    Load,
    Offset,
    Param,
    StackAddr,
    combinations,
    in_frame,
    in_frame_all,
)


def test_a_set_without_stack_addresses_is_returned_as_it_is():
    values = frozenset([Const(3), Addr(0x5000), Load(Addr(0x6000)), Offset(Param(1), 8), UNKNOWN])
    assert in_frame_all(values, 0x1000) is values
    params = frozenset([Param(0), Param(2), Load(Param(1))])  # a parameter is skipped as constants are
    assert in_frame_all(params, 0x1000) is params and all(in_frame(p, 0x1000) is p for p in params)


def test_stack_addresses_are_tagged_as_in_frame_tags_each_value():
    values = frozenset([Addr(0x5000), StackAddr(0x20), Load(Offset(StackAddr(-0x10), 8)), StackAddr(0x30, frame=0x40)])
    framed = in_frame_all(values, 0x1000)
    assert framed == frozenset(in_frame(v, 0x1000) for v in values)
    assert StackAddr(0x20, frame=0x1000) in framed and StackAddr(0x30, frame=0x40) in framed
    assert Load(Offset(StackAddr(-0x10, frame=0x1000), 8)) in framed


def test_one_value_per_role_is_one_choice():
    assert combinations({"handle": frozenset([Load(Addr(0x10))]), "descriptor": frozenset([Addr(0x20)])}) == [
        {"handle": Load(Addr(0x10)), "descriptor": Addr(0x20)}]
    assert combinations({}) == [{}]


def test_several_values_give_every_choice_in_a_fixed_order():
    sets = {"handle": frozenset([Load(Addr(0x10))]), "descriptor": frozenset([Addr(0x30), Addr(0x20)])}
    assert combinations(sets) == [{"handle": Load(Addr(0x10)), "descriptor": Addr(0x20)},
                                  {"handle": Load(Addr(0x10)), "descriptor": Addr(0x30)}]
    assert combinations({"handle": frozenset(), "descriptor": frozenset([Addr(0x20)])}) == []


def test_values_of_different_classes_with_one_hash_are_unequal():
    """Const(i), Addr(i) and Param(i) share a hash; each class's ``__eq__`` answers False for another class
    (not NotImplemented), and sets keep them apart, as do comparisons with plain ints and None."""
    same = [Const(7), Addr(7), Param(7)]
    assert len({hash(v) for v in same}) == 1 and len(set(same)) == 3
    for a in same:
        for b in same:
            assert (a == b) is (a is b) and (a != b) is (a is not b)
    assert Const(7) not in {Addr(7), Param(7)} and Const(7) in {Param(7), Const(7)}
    assert Const(7) != 7 and Param(0) != None and UNKNOWN != Const(0) and UNKNOWN == UNKNOWN  # noqa: E711
    assert Load(Addr(7)) != Offset(Addr(7), 8) and StackAddr(8) != Const(8)
