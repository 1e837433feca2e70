"""``archiver users add|list|disable|enable|set-role|reset-password``: who may sign in to the web app.

Passwords are never taken on the command line (other users could read them from the process
list): they are asked for twice on a terminal, or read as one line from standard input with
``--password-stdin`` (for provisioning scripts).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from archiver import audit
from archiver.cli.app import EXIT_OK, App, Failure, print_json, print_table
from archiver.web import users


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("users", help="web sign-in accounts and roles")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a person who signs in with a password (or --sso)")
    add.add_argument("username", metavar="USER")
    add.add_argument("--role", required=True, choices=users.ROLES)
    add.add_argument("--name", help="the person's name as pages show it")
    add.add_argument("--sso", action="store_true", help="signs in only through single sign-on ([auth.oidc])")
    add.add_argument("--password-stdin", action="store_true", help="read the password as one line from stdin")
    add.set_defaults(handler=run_add)
    listing = actions.add_parser("list", help="every user with role and state")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_list)
    for name, helptext in (("disable", "stop a user signing in (ends their sessions)"),
                           ("enable", "let a disabled or locked-out user sign in again")):
        sub = actions.add_parser(name, help=helptext)
        sub.add_argument("username", metavar="USER")
        sub.set_defaults(handler=run_disable, disabled=name == "disable")
    role = actions.add_parser("set-role", help="change a user's role")
    role.add_argument("username", metavar="USER")
    role.add_argument("role", choices=users.ROLES)
    role.set_defaults(handler=run_set_role)
    reset = actions.add_parser("reset-password", help="set a new password (ends the user's sessions)")
    reset.add_argument("username", metavar="USER")
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(handler=run_reset)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise Failure("the two passwords differ; nothing changed")
    else:
        raise Failure("give the password on a terminal, or with --password-stdin")
    if not password:
        raise Failure("empty password; nothing changed")
    return password


def run_add(app: App, args: argparse.Namespace) -> int:
    password = None if args.sso else _password(args)
    with app.db.session() as session:
        try:
            users.add_user(session, args.username, args.role, password, audit.actor(), display_name=args.name,
                           source="oidc" if args.sso else "local")
        except users.UserError as exc:
            raise Failure(str(exc)) from None
    print(f"user {args.username} added ({args.role})")
    return EXIT_OK


def run_list(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        rows = users.list_users(session)
    if args.json:
        print_json(rows)
    else:
        print_table([r | {"state": "disabled" if r["disabled"] else "locked" if r["locked_until"] else "active"}
                     for r in rows], ["username", "display_name", "role", "source", "state", "created_by"])
    return EXIT_OK


def run_disable(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        try:
            users.set_disabled(session, args.username, args.disabled, audit.actor())
        except users.UserError as exc:
            raise Failure(str(exc)) from None
    print(f"user {args.username} {'disabled' if args.disabled else 'enabled'}")
    return EXIT_OK


def run_set_role(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        try:
            users.set_role(session, args.username, args.role, audit.actor())
        except users.UserError as exc:
            raise Failure(str(exc)) from None
    print(f"user {args.username} is now {args.role}")
    return EXIT_OK


def run_reset(app: App, args: argparse.Namespace) -> int:
    password = _password(args)
    with app.db.session() as session:
        try:
            users.reset_password(session, args.username, password, audit.actor())
        except users.UserError as exc:
            raise Failure(str(exc)) from None
    print(f"password of {args.username} reset; their sessions were ended")
    return EXIT_OK
