"""ssefed follow|unfollow|following|followers|follow-requests."""

from __future__ import annotations

import argparse

from ssefed.cli.common import CommandError
from ssefed.cli.common import command, config_from, local_actor, on_federation, verbs
from ssefed.db.repos import follows as follow_repo
from ssefed.db.repos import remote as remote_repo
from ssefed.federation import follows
from ssefed.federation.client import FetchError
from ssefed.vocab.from_as import ParseError


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "follow", run_follow, "target",
                help="follow another actor (acct:user@domain, user@domain or URL)")
    p.add_argument("--as", dest="handle", required=True, help="the local actor who follows")
    p = command(sub, "unfollow", run_unfollow, "target", help="stop following an actor")
    p.add_argument("--as", dest="handle", required=True)
    p = command(sub, "following", run_following, "handle", help="who a local actor follows")
    p.add_argument("--pending", action="store_true", help="requests not yet accepted")
    command(sub, "followers", run_followers, "handle", help="who follows a local actor")
    requests = verbs(sub, "follow-requests", help="follow requests waiting for approval")
    p = command(requests, "list", run_requests, help="list pending requests")
    p.add_argument("--as", dest="handle", required=True)
    for verb in ("accept", "reject"):
        p = command(requests, verb, run_answer, "follower", accept=verb == "accept",
                    help=f"{verb} a request (the follower's URL or handle)")
        p.add_argument("--as", dest="handle", required=True)


def _peer_errors(config, work):
    try:
        return on_federation(config, work)
    except FetchError as exc:
        raise CommandError(f"could not reach the other server: {exc}") from None
    except ParseError as exc:
        raise CommandError(f"the other server's answer is not a usable actor: {exc}") from None


def run_follow(args: argparse.Namespace) -> int:
    async def follow(fed):
        local = await local_actor(fed.db, args.handle)
        target = await follows.resolve(fed, args.target)
        return target, await follows.follow(fed, local, target)

    target, row = _peer_errors(config_from(args), follow)
    state = "already following" if row.state == "accepted" else "follow request queued for"
    print(f"@{args.handle} {state} {target.ap_id}")
    return 0


def run_unfollow(args: argparse.Namespace) -> int:
    async def unfollow(fed):
        local = await local_actor(fed.db, args.handle)
        target = await follows.resolve(fed, args.target)
        await follows.unfollow(fed, local, target)
        return target

    target = _peer_errors(config_from(args), unfollow)
    print(f"@{args.handle} no longer follows {target.ap_id}")
    return 0


def _list(args, *, followers: bool, state: str):
    async def page(fed):
        local = await local_actor(fed.db, args.handle)
        key = {"followed_id": local.id} if followers else {"follower_id": local.id}
        async with fed.db.read() as s:
            return await follow_repo.page(s, **key, state=state, limit=100_000)

    return on_federation(config_from(args), page)


def _print(rows, what: str) -> None:
    for follow, actor in rows:
        handle = f"@{actor.handle}@{actor.domain}" if actor.handle else ""
        print(f"{actor.ap_id}\t{handle}\t{follow.state}")
    print(f"{len(rows)} {what}")


def run_following(args: argparse.Namespace) -> int:
    rows = _list(args, followers=False, state="pending" if args.pending else "accepted")
    _print(rows, "followed actor(s)" if not args.pending else "pending request(s)")
    return 0


def run_followers(args: argparse.Namespace) -> int:
    rows = _list(args, followers=True, state="accepted")
    _print(rows, "follower(s)")
    return 0


def run_requests(args: argparse.Namespace) -> int:
    rows = _list(args, followers=True, state="pending")
    _print(rows, "pending request(s)")
    return 0


def run_answer(args: argparse.Namespace) -> int:
    async def answer(fed) -> None:
        local = await local_actor(fed.db, args.handle)
        if args.follower.startswith(("https://", "http://")):
            async with fed.db.read() as s:
                follower = await remote_repo.get_actor(s, args.follower)
        else:
            follower = await follows.resolve(fed, args.follower)
        if follower is None:
            raise CommandError(f"unknown actor {args.follower}")
        await follows.answer_request(fed, local, follower, args.accept)

    _peer_errors(config_from(args), answer)
    print(f"{'accepted' if args.accept else 'rejected'} the follow request of {args.follower}")
    return 0
