from django.contrib import admin

from orderflow.django.admin import WorkflowAdmin
from shop.models import Order


@admin.register(Order)
class OrderAdmin(WorkflowAdmin):
    list_display = ("number", "total", "status", "workflow_version")
    list_filter = ("status",)

    def workflow_input(self, obj: Order) -> dict[str, str]:
        return {"total": str(obj.total)}
