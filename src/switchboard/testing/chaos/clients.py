"""The chaos run's REST clients: each creates and configures its share of the users
through the API, and survives the faults like a careful integration would.

A request that got no answer (connection refused or reset, timeout) or a 5xx may or may
not have committed. The client never repeats a creation blindly: it reads back first (the
user by e-mail, the product's 409 `product_exists`, the phones of the user) and only then
tries again. Adding a phone carries `If-Match`, so a repeat after a lost answer that did
commit is refused with 412 instead of adding a second phone."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class UserPlan:
    index: int
    first_name: str
    last_name: str
    email: str
    category: str
    hot_desk: bool
    client: int

    @property
    def expected_phones(self) -> list[str]:
        return sorted(["desk_phone"] + (["hot_desk"] if self.hot_desk else []))


@dataclass
class ClientStats:
    requests: int = 0
    no_answer: int = 0       # connection refused or reset, timeout
    server_errors: int = 0   # 5xx answers
    reconciled: int = 0      # a repeat found that an unanswered attempt had committed
    duplicates_seen: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, other: "ClientStats") -> None:
        self.requests += other.requests
        self.no_answer += other.no_answer
        self.server_errors += other.server_errors
        self.reconciled += other.reconciled
        self.duplicates_seen += other.duplicates_seen
        self.failures += other.failures


class GaveUp(Exception):
    pass


class Progress:
    """Users handed out and finished, and the gate the fault runner opens: a client may
    start user number k (in hand-out order) only once the gate is past k, so each fault
    lands at its place in the workload however fast the clients are."""

    def __init__(self, total: int, clients: int) -> None:
        self.total = total
        self.started = 0
        self.done = 0
        self.gate = 0  # closed until the fault runner opens it
        self.clients_running = clients
        self.last_write = time.monotonic()
        self.cond = threading.Condition()

    def start(self) -> int:
        with self.cond:
            k = self.started
            self.started += 1
            self.cond.notify_all()
            while k >= self.gate:
                self.cond.wait(0.5)
            return k

    def finish(self) -> None:
        with self.cond:
            self.done += 1
            self.last_write = time.monotonic()
            self.cond.notify_all()

    def open_gate(self, until: int) -> None:
        with self.cond:
            self.gate = until
            self.cond.notify_all()

    def wait_started(self, count: int, timeout: float = 3600) -> bool:
        """Until `count` users have been handed out (False if the clients stopped first)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.started < count and self.clients_running and time.monotonic() < deadline:
                self.cond.wait(0.5)
            return self.started >= count


class Api:
    """One client's HTTP connection to the API, with counted, patient retries."""

    def __init__(self, base_url: str, token: str, stats: ClientStats, *, patience: float = 240,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                                 transport=transport)
        self.stats = stats
        self.patience = patience
        self.last_problem = ""

    def close(self) -> None:
        self.http.close()

    def attempt(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """One try: the answer, or None when the outcome is unknown (no answer, or a 5xx)."""
        self.stats.requests += 1
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            self.stats.no_answer += 1
            self.last_problem = f"{method} {path}: no answer ({type(exc).__name__})"
            return None
        if response.status_code >= 500:
            self.stats.server_errors += 1
            self.last_problem = f"{method} {path}: {response.status_code} {response.text[:200]}"
            return None
        return response

    def tries(self, what: str):
        """Yields once per try, sleeping between tries (0.2 s growing to 2 s); gives up
        after `patience` seconds."""
        started, delay = time.monotonic(), 0.2
        while True:
            yield
            if time.monotonic() - started > self.patience:
                raise GaveUp(f"{what}: no success in {self.patience:.0f} s; last: {self.last_problem}")
            time.sleep(delay)
            delay = min(2.0, delay * 1.5)

    def read(self, path: str, **kwargs: Any) -> httpx.Response:
        for _ in self.tries(f"GET {path}"):
            response = self.attempt("GET", path, **kwargs)
            if response is not None:
                if response.status_code != 200:
                    raise GaveUp(f"GET {path}: unexpected {response.status_code} {response.text[:300]}")
                return response
        raise AssertionError("unreachable")


def _code(response: httpx.Response) -> str | None:
    try:
        return response.json()["errors"][0]["code"]
    except Exception:
        return None


class Client:
    """Creates and configures its planned users, one after the other."""

    def __init__(self, number: int, api: Api, account_id: str, categories: dict[str, str]) -> None:
        self.number = number
        self.api = api
        self.base = f"/api/v1/accounts/{account_id}"
        self.categories = categories
        self.created: dict[str, str] = {}  # e-mail -> user id, as this client believes

    def run(self, plans: list[UserPlan], progress: Progress) -> None:
        try:
            for plan in plans:
                progress.start()
                try:
                    self.configure(plan)
                except GaveUp as exc:
                    self.api.stats.failures.append(f"user {plan.email}: {exc}")
                progress.finish()
        finally:
            with progress.cond:
                progress.clients_running -= 1
                progress.cond.notify_all()
            self.api.close()

    def configure(self, plan: UserPlan) -> None:
        user_id = self.create_user(plan)
        self.created[plan.email] = user_id
        self.add_product(user_id)
        self.choose_category(user_id, self.categories[plan.category])
        if plan.hot_desk:
            self.add_hot_desk(user_id)

    def unexpected(self, step: str, response: httpx.Response) -> GaveUp:
        return GaveUp(f"{step}: unexpected {response.status_code} {response.text[:300]}")

    # ---------------------------------------------------------------- the steps

    def find_by_email(self, email: str) -> str | None:
        items = self.api.read(f"{self.base}/users", params={"search": email, "limit": 50}).json()["items"]
        found = [item["id"] for item in items if item["email"].lower() == email.lower()]
        if len(found) > 1:
            self.api.stats.duplicates_seen.append(f"{email}: {found}")
        return found[0] if found else None

    def create_user(self, plan: UserPlan) -> str:
        body = {"first_name": plan.first_name, "last_name": plan.last_name, "email": plan.email, "role": "user"}
        uncertain = False
        for _ in self.api.tries(f"create {plan.email}"):
            response = self.api.attempt("POST", f"{self.base}/users", json=body)
            if response is None or (response.status_code == 409 and _code(response) == "email_taken" and uncertain):
                uncertain = True
                found = self.find_by_email(plan.email)  # committed although unanswered?
                if found is not None:
                    self.api.stats.reconciled += 1
                    return found
                continue
            if response.status_code == 201:
                return response.json()["id"]
            raise self.unexpected(f"create {plan.email}", response)
        raise AssertionError("unreachable")

    def add_product(self, user_id: str) -> None:
        uncertain = False
        for _ in self.api.tries(f"add the product to {user_id}"):
            response = self.api.attempt("POST", f"{self.base}/users/{user_id}/products", json={"product": "mivb"})
            if response is None:
                uncertain = True
                continue
            if response.status_code == 201:
                return
            if response.status_code == 409 and _code(response) == "product_exists" and uncertain:
                self.api.stats.reconciled += 1
                return
            raise self.unexpected(f"add the product to {user_id}", response)

    def choose_category(self, user_id: str, category_id: str) -> None:
        # Choosing the category the user already has changes nothing: safe to repeat.
        for _ in self.api.tries(f"choose the category of {user_id}"):
            response = self.api.attempt("PUT", f"{self.base}/users/{user_id}/mivb/service",
                                        json={"service_category": category_id})
            if response is None:
                continue
            if response.status_code == 200 and response.json()["service_category"] == category_id:
                return
            raise self.unexpected(f"choose the category of {user_id}", response)

    def add_hot_desk(self, user_id: str) -> None:
        uncertain = False
        for _ in self.api.tries(f"add a hot desk to {user_id}"):
            current = self.api.read(f"{self.base}/users/{user_id}/mivb")
            if any(phone["type"] == "hot_desk" for phone in current.json()["phones"]):
                if not uncertain:
                    raise GaveUp(f"add a hot desk to {user_id}: it has one already before any attempt")
                self.api.stats.reconciled += 1
                return
            response = self.api.attempt("POST", f"{self.base}/users/{user_id}/mivb/phones", json={"type": "hot_desk"},
                                        headers={"If-Match": current.headers["etag"]})
            if response is None:
                uncertain = True
                continue
            if response.status_code == 412:  # changed since read: read again (only an unanswered try of ours may)
                continue
            if response.status_code == 201:
                return
            raise self.unexpected(f"add a hot desk to {user_id}", response)
