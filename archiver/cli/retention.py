"""``archiver retention plan|approve|apply|list|show|certificate|tag|untag``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from sqlalchemy import select

from archiver import audit
from archiver.cli.app import EXIT_OK, App, Failure, moment, print_json, print_table
from archiver.items import ItemNotFound, find_item, item_ref
from archiver.retention.certificate import find_certificate
from archiver.retention.disposition import Disposition
from archiver.retention.models import ItemTag, RetentionPlan
from archiver.retention.plan import PlanError, approve, describe, find, propose


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("retention", help="retention schedules: plan, approve and apply disposition")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    plan = actions.add_parser("plan", help="list what has become eligible for disposition and save it as a plan")
    plan.add_argument("--as-of", type=moment, help="eligibility as of this date (default: now; not in the future)")
    plan.add_argument("--account", action="append", default=[], help="only this account (repeatable)")
    plan.add_argument("--series", action="append", default=[], help="only this record series (repeatable)")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.set_defaults(handler=run_plan)
    approval = actions.add_parser("approve", help="approve a plan for disposition")
    approval.add_argument("plan", metavar="PLAN")
    approval.add_argument("--by", required=True, metavar="NAME", help="who approves (records officer)")
    approval.set_defaults(handler=run_approve)
    apply = actions.add_parser("apply", help="carry out an approved plan and issue its certificate")
    apply.add_argument("plan", metavar="PLAN")
    apply.add_argument("--json", action="store_true", help="print the certificate as JSON")
    apply.set_defaults(handler=run_apply)
    listing = actions.add_parser("list", help="plans, newest first")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="one plan: series, items, objects, outcome")
    show.add_argument("plan", metavar="PLAN")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)
    cert = actions.add_parser("certificate", help="a disposition certificate (by its id or its plan's)")
    cert.add_argument("ref", metavar="CERTIFICATE|PLAN")
    cert.set_defaults(handler=run_certificate)
    for name, helptext in (("tag", "tag an item (a series' tags override the account's series)"),
                           ("untag", "remove a tag from an item")):
        tagging = actions.add_parser(name, help=helptext)
        tagging.add_argument("item", metavar="ITEM", help="item id or ACCOUNT:PLATFORM-ID")
        tagging.add_argument("tag", metavar="TAG")
        tagging.set_defaults(handler=run_tag, remove=name == "untag")


def run_plan(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        try:
            plan = propose(session, app.config, args.as_of, audit.actor(), accounts=tuple(args.account),
                           series=tuple(args.series))
        except PlanError as exc:
            raise Failure(str(exc)) from None
        described = describe(session, plan)
    as_of = plan.as_of
    if args.json:
        print_json(described)
        return EXIT_OK
    print(f"retention plan as of {as_of:%Y-%m-%d %H:%M} UTC: {described['items']} item(s) eligible")
    for series in described["series"]:
        print(f"  {series['code']} ({series['title']}; {series['authority'] or 'no authority given'}): "
              f"{series['items']} item(s), keep {series['keep']} from {series['trigger']}, then {series['action']}")
    for obj in described["objects"]:
        lock = f"; Object Lock until {obj['retain_until'][:10]}" if obj["key"] in described["locked"] else ""
        print(f"  {obj['action']:7} {obj['key']} ({obj['records_removed']} record(s) removed, "
              f"{obj['records_kept']} kept{lock})")
    if described["deferred"]:
        print(f"  {len(described['deferred'])} eligible item(s) wait: "
              + "; ".join(sorted({d['reason'] for d in described['deferred']})))
    print(f"plan {plan.uid}")
    return EXIT_OK


def run_approve(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        try:
            plan = approve(session, args.plan, args.by)
        except PlanError as exc:
            raise Failure(str(exc)) from None
        print(f"plan {plan.uid} approved by {plan.approved_by}; carry it out with: archiver retention apply {plan.uid}")
    return EXIT_OK


def run_apply(app: App, args: argparse.Namespace) -> int:
    try:
        certificate = Disposition(app.config, app.db, app.storage, audit.actor()).apply(args.plan)
    except PlanError as exc:
        raise Failure(str(exc)) from None
    content = certificate["content"]
    if args.json:
        print_json(content | {"sha256": certificate["sha256"]})
        return EXIT_OK
    counts = content["counts"]
    print(f"disposed {counts['items']} item(s): {counts['objects_deleted']} WARC(s) deleted, "
          f"{counts['objects_rewritten']} rewritten, {counts['objects_refused']} refused; "
          f"{counts['not_disposed']} approved item(s) kept")
    print(f"certificate {certificate['id']} sha256 {certificate['sha256']}")
    return EXIT_OK


def run_list(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        rows = [describe(session, p) for p in session.scalars(select(RetentionPlan).order_by(RetentionPlan.id.desc()))]
    if args.json:
        print_json(rows)
    else:
        print_table([r | {"as_of": r["as_of"][:10], "objects": len(r["objects"])} for r in rows],
                    ["id", "state", "as_of", "items", "objects", "approved_by", "certificate"])
    return EXIT_OK


def run_show(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        try:
            described = describe(session, find(session, args.plan))
        except PlanError as exc:
            raise Failure(str(exc)) from None
    if args.json:
        print_json(described)
    else:
        for key in ("id", "state", "as_of", "created_by", "digest", "approved_by", "approved_at", "applied_at",
                    "certificate", "items"):
            print(f"{key}: {described[key]}")
        print_table(described["objects"], ["action", "key", "records_removed", "records_kept", "outcome", "new_key"])
    return EXIT_OK


def run_certificate(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        certificate = find_certificate(session, args.ref)
        if certificate is None:
            raise Failure(f"no disposition certificate {args.ref!r}")
        audit.record(session, "retention.certificate_viewed", certificate.uid)
        print_json(certificate.content | {"sha256": certificate.sha256})
    return EXIT_OK


def run_tag(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        try:
            item = find_item(session, args.item)
        except ItemNotFound as exc:
            raise Failure(str(exc)) from None
        ref = item_ref(session, item)
        existing = session.scalar(select(ItemTag).where(ItemTag.account == ref.account, ItemTag.platform_id ==
                                                        ref.platform_id, ItemTag.tag == args.tag))
        if args.remove:
            if existing is None:
                raise Failure(f"{ref} has no tag {args.tag!r}")
            session.delete(existing)
        elif existing is None:
            session.add(ItemTag(account=ref.account, platform_id=ref.platform_id, tag=args.tag,
                                added_at=datetime.now(UTC), added_by=audit.actor()))
        audit.record(session, "item.untagged" if args.remove else "item.tagged", str(ref), tag=args.tag)
    series = app.config.retention.by_tag().get(args.tag)
    note = f" (record series {series.code})" if series and not args.remove else ""
    print(f"{'untagged' if args.remove else 'tagged'} {ref} {args.tag}{note}")
    return EXIT_OK
