"""Policies: the business numbers the machines decide by, as configuration with sensible defaults.

    policies = Policies(approval_total=Decimal("25000"), return_window_ms=14 * DAY_MS)
    machine = load_machine("quotation", policies=policies)

Every threshold, period and tolerance a guard or a delay uses lives here,
so a team changes its rules without touching a machine definition.
Periods are milliseconds, as ``after`` delays are.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

DAY_MS = 24 * 60 * 60 * 1000

Period = Annotated[int, Field(ge=0)]
NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]

#: The role names a definition's ``actor_has_role`` guard may ask for (its ``params.role``).
LOGICAL_ROLES = ("sales_approver", "credit_approver", "admin")


class Policies(BaseModel):
    """The configurable rules of the order machines."""

    model_config = ConfigDict(frozen=True)

    # quotation
    #: a quotation whose discount is above this percentage needs a sales approver
    approval_discount_percent: NonNegative = Decimal("10")
    #: a quotation whose total is above this amount needs a sales approver
    approval_total: NonNegative = Decimal("10000.00")
    #: how long a sent quotation stays open unless the quotation sets its own ``validity_ms``
    quotation_validity_ms: Period = 30 * DAY_MS

    # sale
    #: a sale counts as fully paid when at most this much is left to capture (rounding at the PSP)
    capture_tolerance: NonNegative = Decimal("0.00")
    #: how far an on-account sale may go over the customer's available credit
    credit_tolerance: NonNegative = Decimal("0.00")
    #: whether an overdue balance puts an on-account sale on credit hold whatever the limit
    credit_hold_when_overdue: bool = True

    # fulfilment and order
    backorder_wait_ms: Period = 7 * DAY_MS
    return_window_ms: Period = 30 * DAY_MS
    #: how long an approved return may take to arrive before it counts as abandoned
    return_shipping_wait_ms: Period = 14 * DAY_MS
    default_warehouse: str = "main"

    # who may do what
    sales_approver_role: str = "sales-approver"
    credit_approver_role: str = "credit-approver"
    admin_role: str = "admin"
    #: which permissions grant each logical role (any one of them does), keyed by logical role
    #: (see ``LOGICAL_ROLES``): roles are never taken from an event, the service derives an
    #: acting user's roles from the permissions of its authenticated principal with this table
    role_grants: Mapping[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "sales_approver": ("quotation.approve",),
            "credit_approver": ("sale.override.credit",),
            "admin": ("sale.override.admin",),
        }
    )
    #: permissions each role grants, on top of those an acting user carries itself
    role_permissions: Mapping[str, tuple[str, ...]] = Field(
        default_factory=lambda: {"admin": ("order.change", "order.refund")}
    )

    @field_validator("role_grants")
    @classmethod
    def _logical_roles_only(
        cls, grants: Mapping[str, tuple[str, ...]]
    ) -> Mapping[str, tuple[str, ...]]:
        unknown = sorted(set(grants) - set(LOGICAL_ROLES))
        if unknown:
            raise ValueError(
                f"role_grants names unknown logical roles {unknown}; use {list(LOGICAL_ROLES)}"
            )
        return grants

    def role_table(self) -> dict[str, tuple[str, ...]]:
        """The configured role names, each with the permissions that grant it (the service's role mapping)."""
        return {self.role(logical): tuple(grants) for logical, grants in self.role_grants.items()}

    def role(self, logical: str) -> str:
        """The configured role name for a definition's logical role (``"credit_approver"``)."""
        names = {
            "sales_approver": self.sales_approver_role,
            "credit_approver": self.credit_approver_role,
            "admin": self.admin_role,
        }
        try:
            return names[logical]
        except KeyError:
            raise KeyError(
                f"unknown role '{logical}' in a definition; use one of {list(LOGICAL_ROLES)}"
            ) from None
