"""Alerts: the evaluator (``evaluate``) turns the portal's state into incidents (``incidents``), whose
events are routed by rules and sent through channels (``channels``, ``deliver``)."""
