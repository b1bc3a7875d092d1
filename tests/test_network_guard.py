import socket

import pytest


def test_a_test_cannot_reach_the_internet() -> None:
    with socket.socket() as s, pytest.raises(ConnectionRefusedError, match="network"):
        s.connect(("149.154.167.220", 443))  # api.telegram.org
