import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "integration"))
from procs import Gantry, MockUpstream, mock_config  # noqa: E402


@pytest.fixture(scope="module")
def mock():
    m = MockUpstream()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def gantry(mock):
    g = Gantry(mock_config(mock.url))
    yield g
    rc = g.stop()
    assert rc == 0, g.read_log()


@pytest.fixture
def client(gantry, mock):
    import openai
    mock.reset()
    return openai.OpenAI(base_url=f"{gantry.url}/v1", api_key="sk-dev", max_retries=0)
