"""orderflow for Django: the service's stages over Django's ORM, with the admin (extra ``django``).

    INSTALLED_APPS = [..., "orderflow.django"]
    ORDERFLOW = {"APP": "shop.workflow:service", "WORKFLOW_ENABLED": True}

    class Order(WorkflowModel):           # orderflow.django.models
        number = models.CharField(max_length=20)

    service = DjangoWorkflowService({"order": order_machine})   # orderflow.django.service
    with transaction.atomic():
        service.send(order, {"type": "PAY"}, actor=principal_for(request.user))

The driver (:mod:`orderflow.django.driver`) runs the pipeline's stages
unchanged; what it supplies is what :mod:`orderflow.service.drivers` does for
SQLAlchemy: the unit of work (one ``transaction.atomic`` per call, a
savepoint of the caller's transaction when there is one), the row reader
(``SELECT ... FOR UPDATE``, as ``select_for_update``) and the journal (Django models for the log, outbox,
timers and override requests, in :mod:`orderflow.django.models`).

Nothing is imported here, so that ``INSTALLED_APPS`` can name this package
before the app registry is ready.
"""
