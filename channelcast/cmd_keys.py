"""`channelcast keys create|list|revoke`: the service's API keys.

`create` prints the new key once (only its SHA-256 is stored). The database is the one the
service uses: `--database-url`, else $CHANNELCAST_DATABASE_URL, else sqlite:///channelcast.db.
Exit codes: 0 ok, 2 bad input (a message names the cause).
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `keys` with its actions."""
    p = sub.add_parser("keys", help="create, list and revoke the service's API keys")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", default=None,
                        help="service records (default $CHANNELCAST_DATABASE_URL, else "
                             "sqlite:///channelcast.db)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", parents=[common],
                                help="create a key and print it once")
    create.add_argument("--role", required=True, choices=["erp", "planner", "admin"])
    create.add_argument("--name", required=True, help="who or what uses the key")
    actions.add_parser("list", parents=[common], help="list keys (never the keys themselves)")
    revoke = actions.add_parser("revoke", parents=[common], help="revoke a key by name")
    revoke.add_argument("name")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from serving.db import Database
    from serving.keys import create_key, list_keys, revoke_key
    from serving.settings import DEFAULT_DATABASE_URL

    url = args.database_url or os.environ.get("CHANNELCAST_DATABASE_URL") or \
        DEFAULT_DATABASE_URL
    db = Database(url)
    try:
        db.migrate()
        if args.action == "create":
            info, key = create_key(db, name=args.name, role=args.role)
            print(f"created key {info.name!r} (role {info.role}); it is shown only now:")
            print(key)
        elif args.action == "list":
            print(f"{'name':<24} {'role':<8} {'prefix':<12} {'created (UTC)':<17} revoked")
            for k in list_keys(db):
                revoked = f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "-"
                print(f"{k.name:<24} {k.role:<8} {k.prefix:<12} "
                      f"{k.created_at:%Y-%m-%d %H:%M} {revoked:>17}")
        else:
            info = revoke_key(db, name=args.name)
            print(f"revoked key {info.name!r} (role {info.role}) at "
                  f"{info.revoked_at:%Y-%m-%d %H:%M} UTC")
    except (ValueError, KeyError) as exc:
        print(f"channelcast keys {args.action}: {exc.args[0] if exc.args else exc}",
              file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"channelcast keys: cannot use the database {url}: {exc}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    return 0
