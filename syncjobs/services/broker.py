"""What django-q2's broker still holds: the names of tasks waiting for a worker, on the ORM broker or Redis.

A task a cluster has taken is no longer waiting: it runs, waits in that cluster's memory for a free
worker, or was lost with a cluster that died (Redis forgets a popped task; the ORM broker hands it out
again only after ``Q_CLUSTER["retry"]``, hours later). Recovery hands a queued run to the broker again
when no task of its is waiting any more; a second delivery of a run that did start is harmless.
"""

from __future__ import annotations

from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage


def waiting_task_names() -> set[str] | None:
    """Names of the tasks waiting in the broker, not yet taken by a cluster; None when it cannot tell."""
    broker = get_broker()
    if isinstance(broker, ORM):
        waiting = OrmQ.objects.using(Conf.ORM).filter(key=broker.list_key, lock__lte=timezone.now())
        return {str(task.name()) for task in waiting}
    if isinstance(broker, Redis):
        return {_name(payload) for payload in broker.connection.lrange(broker.list_key, 0, -1)}
    return None


def _name(payload: bytes) -> str:
    try:
        return str(SignedPackage.loads(payload).get("name"))
    except Exception:  # a task another app signed differently is not ours
        return ""
