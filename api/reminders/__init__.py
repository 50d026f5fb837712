"""Reminders and escalation (step 8 of the cycle): a worker that reminds before deadlines and escalates silence."""
