"""One router per resource: ``images``, ``search``, ``status``."""
