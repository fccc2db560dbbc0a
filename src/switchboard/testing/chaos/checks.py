"""What must hold once the chaos is over and the sync has settled: nothing lost, nothing
twice, the PBX equal to the database, every job accounted for. Each check says what broke,
with examples."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from switchboard.mivb.models import MivbService, Phone
from switchboard.sync.models import SyncJob, SyncStatus
from switchboard.testing.chaos.clients import UserPlan

EXAMPLES = 5


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    examples: list[str] = field(default_factory=list)

    def render(self) -> str:
        more = "".join(f"\n      - {e}" for e in self.examples[:EXAMPLES])
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}{more}"


def _twice(values: list[str | None]) -> list[str]:
    return sorted(v for v, n in Counter(v for v in values if v).items() if n > 1)


@dataclass
class World:
    api: httpx.Client           # signed in as the partner admin
    account_id: str
    engine: Engine
    sim: httpx.Client
    plans: list[UserPlan]
    created: dict[str, str]     # e-mail -> user id, as the clients believe
    env: dict[str, str]         # the product processes' environment (for verify)

    @property
    def base(self) -> str:
        return f"/api/v1/accounts/{self.account_id}"


def wait_for_convergence(world: World, timeout: float) -> tuple[bool, float, dict[str, Any]]:
    """Until the sync summary says no job is open and no user is pending or syncing; then
    whether every planned user is synced."""
    started = time.monotonic()
    summary: dict[str, Any] = {}
    while time.monotonic() - started < timeout:
        try:
            response = world.api.get(f"{world.base}/mivb/sync")
            if response.status_code == 200:
                summary = response.json()
                counts = summary["counts"]
                if summary["jobs_in_flight"] == 0 and counts["pending"] == counts["syncing"] == 0:
                    synced = counts["synced"] == len(world.plans) and counts["failed"] == 0
                    return synced, time.monotonic() - started, summary
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    return False, time.monotonic() - started, summary


def _all_users(world: World) -> list[dict[str, Any]]:
    items, offset = [], 0
    while True:
        page = world.api.get(f"{world.base}/users", params={"limit": 500, "offset": offset}).raise_for_status().json()
        items += page["items"]
        offset += 500
        if offset >= page["total"]:
            return items


def check_clients(world: World, failures: list[str], duplicates_seen: list[str]) -> Check:
    missing = [p.email for p in world.plans if p.email not in world.created]
    examples = failures + duplicates_seen + [f"never created: {e}" for e in missing]
    return Check("every planned user was created and configured by the clients", not examples,
                 f"{len(world.created)} of {len(world.plans)} users; {len(failures)} client failures; "
                 f"{len(duplicates_seen)} duplicate e-mails seen", examples)


def check_users(world: World) -> Check:
    users = _all_users(world)
    by_email: dict[str, list[str]] = {}
    for user in users:
        by_email.setdefault(user["email"].lower(), []).append(user["id"])
    problems = []
    for plan in world.plans:
        ids = by_email.get(plan.email, [])
        if len(ids) != 1:
            problems.append(f"{plan.email}: {len(ids)} users {ids}")
        elif plan.email in world.created and ids[0] != world.created[plan.email]:
            problems.append(f"{plan.email}: the client holds id {world.created[plan.email]}, the API has {ids[0]}")
    planned = {p.email for p in world.plans}
    problems += [f"unplanned user {e}: {ids}" for e, ids in by_email.items() if e not in planned]
    return Check("every user the clients created exists exactly once (users list API)", not problems,
                 f"{len(users)} users in the account, {len(world.plans)} planned", problems)


def check_configs(world: World) -> Check:
    """Each user's MiVB configuration through the API: category, the phones planned, synced."""
    by_email = {p.email: p for p in world.plans}

    def one(item: tuple[str, str]) -> str | None:
        email, user_id = item
        config = world.api.get(f"{world.base}/users/{user_id}/mivb").raise_for_status().json()
        kinds = sorted(phone["type"] for phone in config["phones"])
        if config["status"] != "configured" or config["service_category_name"] != by_email[email].category:
            return f"{email}: {config['status']} {config['service_category_name']}"
        if kinds != by_email[email].expected_phones:
            return f"{email}: phones {kinds}, planned {by_email[email].expected_phones}"
        states = {config["sync"]["state"]} | {phone["sync"]["state"] for phone in config["phones"]}
        if states != {"synced"}:
            return f"{email}: sync states {sorted(states)} {config['sync'].get('errors')}"
        return None

    with ThreadPoolExecutor(4) as pool:
        problems = [p for p in pool.map(one, sorted(world.created.items())) if p]
    phones = sum(len(p.expected_phones) for p in world.plans)
    return Check("every user has its category and exactly its planned phones, all synced (user API)", not problems,
                 f"{len(world.created)} users, {phones} phones planned", problems)


def check_synced(world: World) -> Check:
    synced = world.api.get(f"{world.base}/users", params={"sync_state": "synced", "limit": 1}).json()["total"]
    summary = world.api.get(f"{world.base}/mivb/sync").json()
    ok = synced == len(world.plans) and summary["counts"]["synced"] == len(world.plans) and not summary["failed"]
    return Check("every user synced (users list ?sync_state=synced and the sync summary)", ok,
                 f"{synced} synced in the users list; summary {summary['counts']}, "
                 f"{summary['jobs_in_flight']} jobs in flight",
                 [f"{f['name']}: {f['errors']}" for f in summary["failed"]])


def check_verify(world: World) -> Check:
    result = subprocess.run([sys.executable, "-m", "switchboard.cli", "mivb", "verify", "--account", world.account_id],
                            env={**world.env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=600)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    ok = result.returncode == 0 and any("No difference" in line for line in lines)
    return Check("`switchboard mivb verify` finds no difference", ok,
                 f"exit {result.returncode}: {lines[-1] if lines else result.stderr.strip()[-300:]}",
                 [] if ok else lines[:EXAMPLES] + [result.stderr.strip()[-500:]])


def check_numbers(world: World, pbx: dict[str, Any]) -> Check:
    with world.engine.connect() as conn:
        rows = conn.execute(select(Phone.dn, Phone.did).where(Phone.account_id == world.account_id)).all()
    phones = [phone for user in pbx["users"] for phone in user["phones"]]
    problems = ([f"DN twice in the database: {dn}" for dn in _twice([r.dn for r in rows])]
                + [f"DID twice in the database: {did}" for did in _twice([r.did for r in rows])]
                + [f"DN twice on the PBX: {dn}" for dn in _twice([p["dn"] for p in phones] + pbx["catalog"]["reserved_dns"])]
                + [f"DID twice on the PBX: {did}" for did in _twice([p.get("did") for p in phones])]
                + [f"DID route twice on the PBX: {did}" for did in _twice([r["did"] for r in pbx["did_routes"]])])
    return Check("no DN or DID twice, in the database or on the PBX", not problems,
                 f"{len(rows)} phones in the database, {len(phones)} on the PBX, "
                 f"{sum(1 for r in rows if r.did)} DIDs", problems)


def check_pbx_matches(world: World, pbx: dict[str, Any]) -> Check:
    with world.engine.connect() as conn:
        rows = conn.execute(select(Phone.user_id, Phone.dn, Phone.did).where(Phone.account_id == world.account_id)).all()
    in_db: dict[str, set] = {user_id: set() for user_id in world.created.values()}
    for row in rows:
        in_db.setdefault(row.user_id, set()).add((row.dn, row.did))
    on_pbx = {u["user_key"]: {(p["dn"], p.get("did")) for p in u["phones"]} for u in pbx["users"]}
    problems = [f"missing on the PBX: {k}" for k in sorted(set(in_db) - set(on_pbx))]
    problems += [f"on the PBX only: {k}" for k in sorted(set(on_pbx) - set(in_db))]
    problems += [f"{k}: database {sorted(in_db[k])} PBX {sorted(on_pbx[k])}"
                 for k in sorted(set(in_db) & set(on_pbx)) if in_db[k] != on_pbx[k]]
    return Check("the PBX holds exactly the users and numbers of the database (GET /_sim/state)", not problems,
                 f"{len(on_pbx)} users on the PBX, {len(in_db)} in the database", problems)


def job_figures(world: World) -> dict[str, Any]:
    with world.engine.connect() as conn:
        states = dict(conn.execute(select(SyncJob.state, func.count()).where(SyncJob.account_id == world.account_id)
                                   .group_by(SyncJob.state)).all())
        kinds = dict(conn.execute(select(SyncJob.kind, func.count()).where(SyncJob.account_id == world.account_id)
                                  .group_by(SyncJob.kind)).all())
        attempts = conn.scalar(select(func.coalesce(func.sum(SyncJob.attempts), 0))
                               .where(SyncJob.account_id == world.account_id))
        workers = conn.scalar(select(func.count(func.distinct(SyncJob.claimed_by)))
                              .where(SyncJob.account_id == world.account_id))
    return {"states": states, "kinds": kinds, "attempts": int(attempts), "worker_ids": workers,
            "jobs": sum(states.values())}


def check_jobs(world: World, figures: dict[str, Any]) -> Check:
    """Every change the clients made committed exactly one push job (choosing the category,
    adding the hot desk); each ended succeeded or superseded; each user's last one succeeded
    at the user's current desired revision, which the sync recorded as applied."""
    expected = sum(1 + int(p.hot_desk) for p in world.plans)
    problems = [f"{n} jobs {state}" for state, n in figures["states"].items() if state not in ("succeeded", "superseded")]
    if figures["kinds"].get("push_user", 0) != expected:
        problems.append(f"{figures['kinds'].get('push_user', 0)} push jobs for {expected} changes committed")
    if figures["kinds"].get("remove_user"):
        problems.append(f"{figures['kinds']['remove_user']} removal jobs, none expected")
    with world.engine.connect() as conn:
        last = select(SyncJob.user_id, func.max(SyncJob.id).label("id")).where(
            SyncJob.account_id == world.account_id).group_by(SyncJob.user_id).subquery()
        rows = conn.execute(select(SyncJob.user_id, SyncJob.state, SyncJob.revision, MivbService.desired_revision,
                                   SyncStatus.applied_revision)
                            .join(last, last.c.id == SyncJob.id)
                            .join(MivbService, MivbService.user_id == SyncJob.user_id)
                            .join(SyncStatus, SyncStatus.user_id == SyncJob.user_id)).all()
    if len(rows) != len(world.created):
        problems.append(f"{len(rows)} users have a last job, {len(world.created)} were configured")
    problems += [f"user {r.user_id}: last job {r.state} at revision {r.revision}, desired {r.desired_revision}, "
                 f"applied {r.applied_revision}" for r in rows
                 if r.state != "succeeded" or not r.revision == r.desired_revision == r.applied_revision]
    return Check("every job accounted for: one per change, ended succeeded or superseded, none open or lost",
                 not problems, f"{figures['jobs']} jobs {figures['states']} for {expected} changes; "
                 f"{figures['attempts']} attempts", problems)
