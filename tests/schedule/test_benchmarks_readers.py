"""Readers for the standard, Taillard and Brandimarte benchmark formats, good and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from phactory.schedule.benchmarks import (
    InstanceFormatError,
    parse_fjs,
    parse_jsp,
    parse_taillard,
    read_fjs,
    read_instance,
    read_jsp,
)

STANDARD = """\
# instance tiny
# a comment line, then 'n_jobs n_machines'
 2 3
 0 3 1 2 2 2
 0 2 2 1 1 4   # trailing comment
"""

TAILLARD = """\
Nb of jobs, Nb of Machines, Time seed, Machine seed, Upper bound, Lower bound
         2         3        11        22        9         7
Times
 3 2 2
 2 1 4
Machines
 1 2 3
 1 3 2
"""

FJS = """\
2 3 1.5
2  1 1 3  2 2 2 3 5
1  3 1 4 2 1 3 9
"""


def test_standard_layout() -> None:
    inst = parse_jsp(STANDARD, "tiny.jsp")
    assert inst.name == "tiny"
    assert inst.kind == "jsp"
    assert (inst.n_jobs, inst.n_machines, inst.n_operations) == (2, 3, 6)
    assert [(op.alternatives[0].machine, op.min_duration) for op in inst.jobs[1]] == [
        (0, 2),
        (2, 1),
        (1, 4),
    ]


def test_taillard_layout_matches_standard_and_keeps_header_numbers() -> None:
    tai = parse_taillard(TAILLARD, "tiny.tai")
    assert tai.jobs == parse_jsp(STANDARD).jobs
    assert tai.meta == {"time_seed": 11, "machine_seed": 22, "upper_bound": 9, "lower_bound": 7}
    # parse_jsp recognises the Taillard layout by its 'Times' keyword.
    assert parse_jsp(TAILLARD).jobs == tai.jobs


def test_taillard_layout_without_description_line() -> None:
    text = "\n".join(TAILLARD.splitlines()[1:]).replace("11        22        9         7", "")
    assert parse_taillard(text).jobs == parse_jsp(STANDARD).jobs


def test_fjs_layout() -> None:
    inst = parse_fjs(FJS, "tiny.fjs")
    assert inst.kind == "fjsp"
    assert (inst.n_jobs, inst.n_machines, inst.n_operations) == (2, 3, 3)
    second = inst.jobs[0][1]
    # Machines are 1-based in the file, 0-based in the instance.
    assert [(a.machine, a.duration) for a in second.alternatives] == [(1, 2), (2, 5)]
    assert second.duration_on(2) == 5 and second.duration_on(0) is None
    assert [(a.machine, a.duration) for a in inst.jobs[1][0].alternatives] == [
        (0, 4),
        (1, 1),
        (2, 9),
    ]


def test_fjs_with_one_machine_per_operation_is_a_jsp() -> None:
    assert parse_fjs("1 2\n2 1 1 5 1 2 3\n").kind == "jsp"


def test_fjs_header_without_average_and_with_integer_third_value() -> None:
    body = FJS.splitlines()[1:]
    assert parse_fjs("\n".join(["2 3", *body])).jobs == parse_fjs(FJS).jobs
    assert parse_fjs("\n".join(["2\t3\t3", *body])).jobs == parse_fjs(FJS).jobs


def _error(text: str, parser: str) -> InstanceFormatError:
    parse = {"jsp": parse_jsp, "tai": parse_taillard, "fjs": parse_fjs}[parser]
    with pytest.raises(InstanceFormatError) as info:
        parse(text, "bad.txt")
    return info.value


@pytest.mark.parametrize(
    ("parser", "text", "line", "words"),
    [
        ("jsp", "", 1, "empty"),
        ("jsp", "# only a comment\n", 1, "empty"),
        ("jsp", "2\n0 1\n", 1, "n_jobs n_machines"),
        ("jsp", "2 x\n0 1\n0 1\n", 1, "integer"),
        ("jsp", "0 2\n", 1, "positive"),
        ("jsp", "2 2 7\n0 1 1 1\n0 1 1 1\n", 1, "header"),
        ("jsp", "2 2\n0 1 1 1\n", 2, "expected 2 job lines"),
        ("jsp", "1 2\n0 1 1 1\n0 2 1 1\n", 3, "unexpected data"),
        ("jsp", "1 2\n0 1 1\n", 2, "pairs"),
        ("jsp", "1 2\n0 1 2 1\n", 2, "outside 0..1"),
        ("jsp", "1 2\n0 1 1 -4\n", 2, "negative"),
        ("jsp", "1 2\n\n\n0 1 1 b\n", 4, "integer"),
        ("tai", "2 3\nTimes\n1 2 3\n1 2 3\n", 4, "Machines"),
        ("tai", "2 3\nTimes\n1 2 3\nMachines\n1 2 3\n1 2 3\n", 4, "Times"),
        ("tai", "1 3\nTimes\n1 2 3\nMachines\n1 2 4\n", 5, "outside 1..3"),
        ("tai", "1 3\nTimes\n1 2\nMachines\n1 2 3\n", 3, "expected 3 integers"),
        ("tai", "1 3 5\nTimes\n1 2 3\nMachines\n1 2 3\n", 1, "Taillard header"),
        ("tai", "1 3\nTimes\n1 2 3\nMachines\n1 2 3\n9 9 9\n", 6, "unexpected data"),
        ("fjs", "1 2 x\n1 1 1 5\n", 1, "average"),
        ("fjs", "1 2 3 4\n1 1 1 5\n", 1, "header"),
        ("fjs", "2 2\n1 1 1 5\n", 2, "expected 2 job lines"),
        ("fjs", "1 2\n2 1 1 5\n", 2, "line ends early"),
        ("fjs", "1 2\n1 2 1 5 2\n", 2, "line ends early"),
        ("fjs", "1 2\n1 0\n", 2, "positive"),
        ("fjs", "1 2\n1 1 3 5\n", 2, "outside 1..2"),
        ("fjs", "1 2\n1 2 1 5 1 6\n", 2, "listed twice"),
        ("fjs", "1 2\n1 1 1 5 7\n", 2, "unexpected integers"),
        ("fjs", "1 2\n0\n", 2, "positive"),
        ("fjs", "1 2\n1 1 1 -5\n", 2, "negative"),
    ],
)
def test_malformed_files_name_file_and_line(parser: str, text: str, line: int, words: str) -> None:
    err = _error(text, parser)
    assert err.file == "bad.txt"
    assert err.line == line
    assert str(err).startswith(f"bad.txt:{line}: ")
    assert words.lower() in str(err).lower()


def test_read_functions_use_the_path_in_errors(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jsp"
    bad.write_text("2 2\n0 1 1 1\n0 1 5 1\n")
    with pytest.raises(InstanceFormatError, match=r"broken\.jsp:3: job 1 operation 1"):
        read_jsp(bad)
    badf = tmp_path / "broken.fjs"
    badf.write_text("1 2\n1 1 3 5\n")
    with pytest.raises(InstanceFormatError, match=r"broken\.fjs:2: "):
        read_fjs(badf)


def test_read_instance_picks_the_reader_by_extension_or_format(tmp_path: Path) -> None:
    fjs = tmp_path / "x.fjs"
    fjs.write_text(FJS)
    jsp = tmp_path / "y.txt"
    jsp.write_text(STANDARD)
    assert read_instance(fjs).kind == "fjsp"
    assert read_instance(jsp).name == "y"
    # A .fjs-formatted file with another extension needs the explicit format.
    other = tmp_path / "z.data"
    other.write_text(FJS)
    assert read_instance(other, "fjsp").jobs == read_instance(fjs).jobs
    with pytest.raises(InstanceFormatError):
        read_instance(other)


def test_binary_file_is_a_format_error_not_a_traceback(tmp_path: Path) -> None:
    blob = tmp_path / "blob.jsp"
    blob.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InstanceFormatError, match=r"blob\.jsp:0: not a UTF-8 text file"):
        read_jsp(blob)
