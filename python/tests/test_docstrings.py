"""The examples in the public functions' docstrings run, and print what they say."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import svdiag


@pytest.mark.parametrize("function", [svdiag.spectrum, svdiag.metrics])
def test_docstring_examples_hold(function):
    tests = doctest.DocTestFinder().find(function, globs={"svdiag": svdiag, "np": np})
    assert sum(len(t.examples) for t in tests) > 0, "the docstring has examples"
    runner = doctest.DocTestRunner()
    for t in tests:
        runner.run(t)
    assert runner.failures == 0
