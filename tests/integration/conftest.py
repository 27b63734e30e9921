import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from procs import Gantry, MockUpstream, mock_config  # noqa: E402

AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture(scope="module")
def mock():
    m = MockUpstream()
    yield m
    m.stop()


@pytest.fixture(autouse=False)
def clean_mock(mock):
    mock.reset()
    return mock


@pytest.fixture(scope="module")
def gantry(mock):
    g = Gantry(mock_config(mock.url))
    yield g
    # A clean exit on SIGTERM; under the sanitizer build this also catches reports at shutdown.
    rc = g.stop()
    assert rc == 0, g.read_log()
