"""Figure 1, bulk onboarding: a CSV of N users (the Telephony category, a desk phone with
an allocated DN and its DID, voicemail; every 5th also a hot desk ACD agent), from the
upload until every user is on the simulator and no push is left open.

The limit ratio compares it with the simulator alone: the same PBX payloads (read back
from the simulator, as Switchboard pushed them) PUT straight into a fresh simulator by 8
keep-alive clients (twice the pushes Switchboard may have in flight to one PBX)."""

from __future__ import annotations

import threading
import time

import httpx

from switchboard.bench import world
from switchboard.bench.clients import api_client, sims_hold, sync_summary, wait_until
from switchboard.bench.processes import SIM_AUTH, Sim, Stack
from switchboard.bench.profile import profiled
from switchboard.bench.results import Figure
from switchboard.bench.sizes import Sizes
from switchboard.imports import csv_format

ACCOUNT = 1
COLUMNS = ("email", "first_name", "last_name", "mivb", "service_category", "phone1_type", "phone1_voicemail",
           "phone2_type", "phone2_acd_agent")


def onboarding_csv(account: world.Account, users: int) -> str:
    rows = []
    for n in range(users):
        first_name, last_name = world.user_name(n)
        row = {"email": world.user_email(account, n), "first_name": first_name, "last_name": last_name,
               "mivb": "yes", "service_category": world.CATEGORY, "phone1_type": "desk_phone",
               "phone1_voicemail": "yes"}
        if n % world.HOT_DESK_EVERY == world.HOT_DESK_EVERY - 1:
            row.update(phone2_type="hot_desk", phone2_acd_agent="yes")
        rows.append(row)
    return csv_format.write(rows, COLUMNS)


RAW_CLIENTS = 8  # as in every result since the baseline (the workers' threads were 4 a process then)


def raw_rate(stack: Stack, source: Sim, clients: int) -> tuple[float, int]:
    """The users the source simulator holds, PUT into a fresh simulator by `clients`
    keep-alive clients at once: users per second, and how many were refused."""
    with source.client() as client:
        users = client.get("/_sim/state").json()["users"]
    target = stack.start_sim()
    refused = 0
    lock = threading.Lock()

    def push(share: list[dict]) -> None:
        nonlocal refused
        with httpx.Client(base_url=target.url, auth=SIM_AUTH, timeout=60) as client:
            for user in share:
                if client.put(f"/api/v1/users/{user['user_key']}", json=user).status_code != 200:
                    with lock:
                        refused += 1

    threads = [threading.Thread(target=push, args=(users[i::clients],)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    stack.stop_sim(target)
    return len(users) / seconds, refused


def measure(stack: Stack, sizes: Sizes, partner: world.Partner) -> list[Figure]:
    users = sizes.onboarding_users
    sim = stack.start_sim()
    account = world.create_account(stack, partner, ACCOUNT, sim.url)
    body = onboarding_csv(account, users).encode()
    devices = users + users // world.HOT_DESK_EVERY
    with api_client(stack, partner) as api, profiled(stack, "1"):
        started = time.monotonic()
        response = api.post(f"/api/v1/accounts/{account.id}/imports", params={"mode": "apply", "on_error": "partial"},
                            content=body, headers={"Content-Type": "text/csv"})
        response.raise_for_status()
        job_url = f"/api/v1/jobs/{response.json()['id']}"
        unanswered = 0

        def job_done() -> bool:  # a poll the server could not answer (503: database busy) is counted
            nonlocal unanswered
            answer = api.get(job_url)
            unanswered += answer.status_code != 200
            return answer.status_code == 200 and answer.json()["state"] in ("succeeded", "failed")

        imported = wait_until(job_done, 60 + users, "the import job", interval=0.25)
        on_pbx_then = sim.counters().get("users", 0)  # pushed while the import ran
        job = api.get(job_url).json()
        ready = sims_hold([sim], users, devices)
        finished = wait_until(lambda: ready() and sync_summary(stack, [account.id])["open_jobs"] == 0,
                              120 + users, f"{users} imported users synced")
    seconds = finished - started
    summary = sync_summary(stack, [account.id])
    rate = users / seconds
    raw, refused = raw_rate(stack, sim, RAW_CLIENTS)
    stack.stop_sim(sim)
    common = {"engine": stack.engine_name, "mode": sizes.mode, "size": sizes.describe("onboarding")}
    result = job["result"]
    return [
        Figure("1. bulk onboarding (CSV)", value=round(rate, 1), unit="users/s", target=250,
               note=f"import job {imported - started:.1f} s ({on_pbx_then} users on the PBX then), all synced "
                    f"{seconds:.1f} s; created "
                    f"{result['created']}, failed {result['failed']}, sync failed {summary.get('failed', 0)}"
                    + (f"; {unanswered} job polls unanswered" if unanswered else ""),
               **common),
        Figure("1. simulator alone, same payloads", value=round(raw, 1), unit="users/s",
               note=f"{RAW_CLIENTS} keep-alive clients; {refused} refused", **common),
        Figure("1. limit ratio (end to end / simulator)", value=round(rate / raw, 3), unit="ratio", target=0.25,
               note="goal 0.5", **common),
    ]
