"""The chaos clients' reconciliation, against a fake API that commits a write and then
loses its answer: the client reads back and never makes the write twice."""

from __future__ import annotations

import json

import httpx
import pytest

from switchboard.testing.chaos.clients import Api, Client, ClientStats, GaveUp, UserPlan

ACCOUNT = "/api/v1/accounts/acc"


class FakeApi:
    """Users, products, categories and phones; `lose` names the writes whose first answer
    is lost after they committed."""

    def __init__(self, lose: set[str]) -> None:
        self.lose = set(lose)
        self.users: dict[str, dict] = {}
        self.products: set[str] = set()
        self.categories: dict[str, str] = {}
        self.phones: dict[str, list[str]] = {}
        self.versions: dict[str, int] = {}

    def _committed(self, what: str, response: httpx.Response) -> httpx.Response:
        if what in self.lose:
            self.lose.discard(what)
            raise httpx.ReadError("connection reset after the commit")
        return response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        body = json.loads(request.content) if request.content else {}
        if path == f"{ACCOUNT}/users" and method == "POST":
            if any(u["email"] == body["email"] for u in self.users.values()):
                return httpx.Response(409, json={"errors": [{"code": "email_taken"}]})
            user_id = f"u{len(self.users) + 1}"
            self.users[user_id] = {"id": user_id, "email": body["email"]}
            return self._committed("user", httpx.Response(201, json=self.users[user_id]))
        if path == f"{ACCOUNT}/users" and method == "GET":
            term = request.url.params["search"]
            items = [u for u in self.users.values() if term in u["email"]]
            return httpx.Response(200, json={"total": len(items), "items": items})
        user_id = path.split("/")[6]
        if path.endswith("/products"):
            if user_id in self.products:
                return httpx.Response(409, json={"errors": [{"code": "product_exists"}]})
            self.products.add(user_id)
            self.versions[user_id] = 1
            return self._committed("product", httpx.Response(201, json={"product": "mivb"}))
        if path.endswith("/mivb/service"):
            self.categories[user_id] = body["service_category"]
            self.phones.setdefault(user_id, ["desk_phone"])
            return httpx.Response(200, json={"service_category": body["service_category"]})
        if path.endswith("/mivb") and method == "GET":
            return httpx.Response(200, json={"phones": [{"type": t} for t in self.phones[user_id]]},
                                  headers={"etag": f'"{self.versions[user_id]}"'})
        if path.endswith("/mivb/phones"):
            if request.headers.get("if-match") != f'"{self.versions[user_id]}"':
                return httpx.Response(412, json={"errors": [{"code": "version_mismatch"}]})
            self.phones[user_id].append(body["type"])
            self.versions[user_id] += 1
            return self._committed("phone", httpx.Response(201, json={"type": body["type"]}))
        return httpx.Response(404)


PLAN = UserPlan(index=0, first_name="Ada", last_name="Chaos 00000", email="chaos.00000@chaos.example",
                category="Telephony", hot_desk=True, client=0)


def client_for(fake: FakeApi) -> Client:
    api = Api("http://switchboard.invalid", "token", ClientStats(), patience=5,
              transport=httpx.MockTransport(fake))
    return Client(0, api, "acc", {"Telephony": "cat-1"})


def test_a_write_whose_answer_is_lost_after_its_commit_is_found_not_repeated():
    fake = FakeApi(lose={"user", "product", "phone"})
    client = client_for(fake)
    client.configure(PLAN)
    assert list(fake.users) == ["u1"] and client.created == {PLAN.email: "u1"}
    assert fake.products == {"u1"} and fake.categories == {"u1": "cat-1"}
    assert fake.phones == {"u1": ["desk_phone", "hot_desk"]}  # one hot desk, not two
    assert client.api.stats.reconciled == 3 and client.api.stats.no_answer == 3


def test_a_conflict_without_a_lost_answer_is_reported_not_explained_away():
    fake = FakeApi(lose=set())
    fake.users["u9"] = {"id": "u9", "email": PLAN.email}  # someone else made it: not ours
    with pytest.raises(GaveUp, match="unexpected 409"):
        client_for(fake).create_user(PLAN)
