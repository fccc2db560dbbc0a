"""Figure 3, one user at a time through the API: 8 clients, each creating its share of the
users one after the other (create the user, add the MiVB product, choose the Telephony
category, whose template gives a desk phone with an allocated DN and DID), until every
user is on the simulator and no push is left open."""

from __future__ import annotations

import threading
import time

from switchboard.bench import world
from switchboard.bench.clients import api_client, sims_hold, sync_summary, wait_until
from switchboard.bench.processes import Stack
from switchboard.bench.profile import profiled
from switchboard.bench.results import Figure
from switchboard.bench.sizes import Sizes

ACCOUNT = 2


def measure(stack: Stack, sizes: Sizes, partner: world.Partner) -> list[Figure]:
    users, clients = sizes.api_users, sizes.api_clients
    sim = stack.start_sim()
    account = world.create_account(stack, partner, ACCOUNT, sim.url)
    base = f"/api/v1/accounts/{account.id}"
    errors: list[str] = []
    apis = [api_client(stack, partner) for _ in range(clients)]
    start = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        api = apis[number]
        start.wait()
        for n in range(number, users, clients):
            first_name, last_name = world.user_name(n)
            steps = [("POST", f"{base}/users", {"first_name": first_name, "last_name": last_name,
                                               "email": world.user_email(account, n), "role": "user"})]
            response = api.request(*steps[0][:2], json=steps[0][2])
            if response.status_code != 201:
                errors.append(f"create: {response.status_code}")
                continue
            user = f"{base}/users/{response.json()['id']}"
            for method, path, body in (("POST", f"{user}/products", {"product": "mivb"}),
                                       ("PUT", f"{user}/mivb/service", {"service_category": account.category_id})):
                response = api.request(method, path, json=body)
                if response.status_code not in (200, 201):
                    errors.append(f"{method} {path.rsplit('/', 1)[-1]}: {response.status_code}")
                    break

    threads = [threading.Thread(target=client, args=(i,), name=f"api-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    with profiled(stack, "3"):
        start.wait()
        started = time.monotonic()
        for thread in threads:
            thread.join()
        answered = time.monotonic()
        configured = users - len(errors)
        ready = sims_hold([sim], configured)
        finished = wait_until(lambda: ready() and sync_summary(stack, [account.id])["open_jobs"] == 0,
                              120 + users, f"{configured} users configured through the API synced")
    for api in apis:
        api.close()
    stack.stop_sim(sim)
    seconds = finished - started
    return [Figure("3. one user at a time, API", value=round(configured / seconds, 1), unit="users/s", target=80,
                   engine=stack.engine_name, mode=sizes.mode, size=sizes.describe("api"),
                   note=f"API done in {answered - started:.1f} s ({3 * users / (answered - started):.0f} req/s), "
                        f"all synced {seconds:.1f} s; {len(errors)} refused"
                        + (f" (first: {errors[0]})" if errors else ""))]
