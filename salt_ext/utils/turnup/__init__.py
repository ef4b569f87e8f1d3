"""Rack turn-up: planner, preflight, run record, steps, boot enrolment (autosign, boot)."""
