"""The shipped order machines behind one service: ports bound, sale overrides configured.

service = order_service(Session)                     # database-backed ports
service = order_service(Session, ports=in_memory_ports())
sale = SaleOrder(reference="S-1", customer_id="C-1", workflow_machine="sale")
service.start(sale, input={"customer_id": "C-1", "currency": "EUR", "total": "120.00"})
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from orderflow.orders.loading import MACHINE_NAMES, load_machine
from orderflow.orders.policies import Policies
from orderflow.orders.ports import Ports
from orderflow.service.overrides import sale_override_rules
from orderflow.service.ports import TransactionScope, database_ports
from orderflow.service.workflow import WorkflowService
from orderflow.store.base import utcnow
from orderflow.store.domain import Fulfillment, Quotation, SaleOrder

#: the shipped record models by the names people use for them (and by table name)
ORDER_RECORDS: dict[str, type[Any]] = {
    "quotation": Quotation,
    "sale": SaleOrder,
    "fulfilment": Fulfillment,
}
_ALIASES = {
    "quotations": "quotation",
    "sale_order": "sale", "sale_orders": "sale", "saleorder": "sale",
    "fulfillment": "fulfilment", "fulfillments": "fulfilment", "fulfilments": "fulfilment",
}  # fmt: skip


def order_record_model(name: str) -> type[Any]:
    """The record model for ``name`` (``quotation``, ``sale``, ``fulfilment`` or a table name)."""
    key = name.strip().lower()
    model = ORDER_RECORDS.get(_ALIASES.get(key, key))
    if model is None:
        raise LookupError(
            f"no record type {name!r}; use one of {', '.join(ORDER_RECORDS)} "
            "(or their table names quotations, sale_orders, fulfillments)"
        )
    return model


def order_service(
    session_factory: Callable[[], Session],
    *,
    ports: Ports | None = None,
    policies: Policies | None = None,
    machines: Sequence[str] = MACHINE_NAMES,
    **options: Any,
) -> WorkflowService:
    """A :class:`WorkflowService` for the shipped order machines, bound to ``ports``.

    Without ``ports`` the machines use the database-backed ports, in each
    send's own transaction.  An actor's roles (a sales approver, a credit
    approver, an admin) come from its permissions through
    ``policies.role_grants``.  ``options`` go to the service (``clock``,
    ``workflow_enabled``, ...).
    """
    policies = policies or Policies()
    scope = None
    if ports is None:
        scope = TransactionScope()
        ports = database_ports(scope, clock=options.get("clock", utcnow))
    loaded = {name: load_machine(name, ports=ports, policies=policies) for name in machines}
    rules = []
    if "sale" in loaded:
        rules.append(sale_override_rules(policies))
    options.setdefault("roles", policies.role_table())
    return WorkflowService(session_factory, loaded, scope=scope, overrides=rules, **options)
