"""Whether a port is free, as a server binding it would find it."""

from __future__ import annotations

import socket

from devstack.readiness import LOOPBACK, port_is_free


def listener() -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((LOOPBACK, 0))
    server.listen()
    return server


def test_a_port_something_listens_on_is_taken() -> None:
    with listener() as server:
        assert not port_is_free(server.getsockname()[1])


def test_a_port_whose_connections_only_linger_after_its_server_stopped_is_free() -> None:
    with listener() as server:
        port = server.getsockname()[1]
        with socket.create_connection((LOOPBACK, port)) as client:
            accepted, _ = server.accept()
            accepted.close()  # the server's side closes first, so its end lingers in TIME_WAIT
            client.recv(1)

    assert port_is_free(port)
