"""Fixtures of the shop's suite: orders at each step, and users with and without the ship permission."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from shop.models import Order
from shop.workflow import open_order, service


@pytest.fixture
def new_order(db: Any) -> Any:
    """``new_order("A-1", "10.00", placed=True)``: an order, started, placed if asked."""

    def make(number: str, total: str = "10.00", *, placed: bool = False) -> Order:
        order = Order(number=number, total=Decimal(total), workflow_machine="order")
        assert open_order(order).success
        if placed:
            assert service.send(order, "PLACE").success
        return order

    return make


@pytest.fixture
def shipper(db: Any) -> User:
    user = User.objects.create_user("sam", password="pw", first_name="Sam", last_name="Shipper")
    user.user_permissions.add(Permission.objects.get(codename="ship_order"))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def clerk(db: Any) -> User:
    return User.objects.create_user("clara", password="pw")


@pytest.fixture
def boss(db: Any) -> User:
    return User.objects.create_superuser("boss", "boss@example.com", "pw")


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    """The tests sign users in, they do not test password hashing: the fastest hasher will do."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
