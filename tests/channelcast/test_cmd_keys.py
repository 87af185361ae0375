"""`channelcast keys create|list|revoke` on the service's database."""

from __future__ import annotations

from channelcast.cli import main
from serving.db import Database
from serving.keys import KeyChecker


def test_create_prints_the_key_once_list_shows_it_revoke_ends_it(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    assert main(["keys", "create", "--role", "planner", "--name", "ann",
                 "--database-url", url]) == 0
    printed = capsys.readouterr().out.splitlines()
    key = printed[-1]
    assert "ann" in printed[0] and key.startswith("cc_")
    assert KeyChecker(Database(url), ttl=0).check(key).role == "planner"
    assert main(["keys", "list", "--database-url", url]) == 0
    listing = capsys.readouterr().out
    assert "ann" in listing and "planner" in listing and key not in listing
    assert main(["keys", "revoke", "ann", "--database-url", url]) == 0
    assert KeyChecker(Database(url), ttl=0).check(key) is None


def test_bad_requests_exit_2_with_a_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CHANNELCAST_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert main(["keys", "create", "--role", "erp", "--name", "x"]) == 0
    assert (tmp_path / "env.db").exists()
    capsys.readouterr()
    assert main(["keys", "create", "--role", "erp", "--name", "x"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["keys", "revoke", "nobody"]) == 2
    assert "no API key named 'nobody'" in capsys.readouterr().err
