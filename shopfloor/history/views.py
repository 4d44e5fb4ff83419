"""Which topics each board's read models are folded from: a past view replays only those.

Sensor readings are most of a plant's traffic and only the equipment board reads what they fold
into; the work-order board replaying them would be slower for nothing. Any path not listed
replays every topic.
"""

from __future__ import annotations

from shopfloor.config import Settings


def topics_for(path: str, settings: Settings) -> tuple[str, ...]:
    production = (settings.topic_work_orders, settings.topic_equipment)  # orders, and line states
    warehouse = (settings.topic_inventory, settings.topic_outbound)
    machines = (settings.topic_equipment, settings.topic_sensors, settings.topic_alert_commands)
    quality = (settings.topic_quality,)
    boards = {
        "/work-orders": production,
        "/lines": production,
        "/inventory": warehouse,
        "/outbound": warehouse,
        "/equipment": machines,
        "/api/work-orders": production,
        "/api/lines": production,
        "/api/inventory": warehouse,
        "/api/outbound": warehouse,
        "/api/equipment": machines,
        "/api/alerts": machines,
        "/quality": quality,
        "/api/quality": quality,
    }
    for prefix, topics in boards.items():
        if path == prefix or path.startswith(prefix + "/"):
            return topics
    return tuple(settings.topics)
