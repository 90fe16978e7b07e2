"""Variable paths ``x``, ``t1.Q``, ``arr[3]``, ``s.f`` on compiled ST and Python blocks."""

from __future__ import annotations

import pytest

from phactory.control.blocks import TON
from phactory.control.paths import get_path, set_path
from phactory.control.pou import ScanContext
from phactory.control.st import compile_source
from phactory.errors import InvalidError, NotFoundError

SOURCE = """
TYPE Pt : STRUCT x : REAL; tags : ARRAY[0..1] OF INT; END_STRUCT; END_TYPE
PROGRAM Main
VAR
    n : INT;
    flag : BOOL;
    r : LREAL;
    u : UDINT;
    d : TIME;
    s : STRING(4);
    t1 : TON;
    arr : ARRAY[1..3] OF DINT := [10, 20, 30];
    m : ARRAY[1..2, -1..0] OF INT;
    p : Pt;
    ps : ARRAY[1..2] OF Pt;
END_VAR
VAR CONSTANT k : INT := 7; END_VAR
t1(IN := flag, PT := T#0s);
END_PROGRAM
"""


@pytest.fixture
def main():  # type: ignore[no-untyped-def]
    return compile_source(SOURCE).create("Main", ScanContext())


def test_reads_by_path_with_declared_bounds(main) -> None:  # type: ignore[no-untyped-def]
    main.set("flag", True)
    main()
    assert main.get("t1.Q") is True and main.get("T1.q") is True  # case-insensitive
    assert main.get("arr[1]") == 10 and main.get("arr[3]") == 30
    assert main.get("k") == 7


def test_writes_reach_nested_elements(main) -> None:  # type: ignore[no-untyped-def]
    main.set("m[2, -1]", 5)
    main.set("m[1][0]", 6)
    main.set("p.tags[1]", 3)
    main.set("ps[2].x", 1.5)
    main.set("arr[2]", -4)
    assert main.get("m") == [[0, 6], [5, 0]]
    assert main.get("p.tags") == [0, 3] and main.get("ps[2].x") == 1.5
    assert get_path(main, "arr") == [10, -4, 30]


def test_writes_are_checked_against_the_declared_type(main) -> None:  # type: ignore[no-untyped-def]
    main.set("r", 2)
    assert main.get("r") == 2.0 and isinstance(main.get("r"), float)
    main.set("u", 4294967295)
    main.set("s", "abcdef")
    assert main.get("s") == "abcd"  # cut to STRING(4)
    for path, bad in [
        ("n", 40000),
        ("n", 1.5),
        ("u", -1),
        ("flag", "yes"),
        ("d", 1.5),
        ("r", "x"),
        ("k", 1),
        ("t1", 0),
        ("arr", [1, 2, 3]),
        ("p", 0),
    ]:
        with pytest.raises(InvalidError):
            set_path(main, path, bad)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("nope", NotFoundError),
        ("t1.nope", NotFoundError),
        ("arr[0]", InvalidError),  # below ARRAY[1..3]
        ("arr[4]", InvalidError),
        ("m[3, 0]", InvalidError),
        ("m[1]", InvalidError),  # a row, not an element
        ("n[1]", InvalidError),
        ("arr[x]", InvalidError),
        (".n", InvalidError),
        ("", InvalidError),
    ],
)
def test_bad_paths_are_refused_clearly(main, path: str, error: type[Exception]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        main.get(path)


def test_python_blocks_work_alike() -> None:
    t = TON(ScanContext())
    set_path(t, "pt", 5)
    set_path(t, "IN", True)
    assert get_path(t, "PT") == 5 and t.IN is True
