"""Shared code of saltext-turnup: NetBox access, snapshot, hardware parsers, turn-up planner."""
