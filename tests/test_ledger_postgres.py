"""The PostgreSQL ledger: the test server itself, team semantics, faults that name the host."""

from __future__ import annotations

from _postgres import PgServer


def test_the_test_server_is_a_real_postgresql_15(pg_server: PgServer) -> None:
    with pg_server.admin() as admin:
        (version,) = admin.execute("SHOW server_version_num").fetchone()
        (user,) = admin.execute("SELECT current_user").fetchone()
    assert int(version) // 10000 == 15
    assert user == "kling"
