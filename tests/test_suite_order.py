"""The order `make test` hands test files out in (tests/conftest.py, costliest_files_first)."""

import pytest

from tests.conftest import costliest_files_first


class Item:
    def __init__(self, nodeid: str, *marks: str):
        self.nodeid = nodeid
        self.marks = [getattr(pytest.mark, name) for name in marks]

    def iter_markers(self):
        return iter(mark.mark for mark in self.marks)


def test_files_go_costliest_first_each_keeping_its_own_order():
    items = [
        Item("tests/test_many.py::test_a"),
        Item("tests/test_many.py::test_b"),
        Item("tests/test_many.py::test_c"),
        Item("tests/faults/test_kill.py::test_second", "faults", "django_db"),
        Item("tests/faults/test_kill.py::test_first", "faults"),
        Item("tests/pipeline/test_live.py::test_one", "pipeline"),
    ]

    ordered = [item.nodeid for item in costliest_files_first(items)]

    assert ordered == [
        "tests/faults/test_kill.py::test_second",
        "tests/faults/test_kill.py::test_first",
        "tests/pipeline/test_live.py::test_one",
        "tests/test_many.py::test_a",
        "tests/test_many.py::test_b",
        "tests/test_many.py::test_c",
    ]


def test_a_file_of_many_quick_tests_goes_before_one_of_a_single_slower_one():
    items = [Item("tests/test_one.py::test_x", "browser"), *(Item(f"tests/test_many.py::test_{n}") for n in range(30))]

    ordered = [item.nodeid for item in costliest_files_first(items)]

    assert ordered[0] == "tests/test_many.py::test_0" and ordered[-1] == "tests/test_one.py::test_x"
