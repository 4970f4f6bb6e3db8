"""Use-cases written once, below every front end: the chat's Session and the commands call
these, so a chat step and a command cannot drift apart.

Below ``copilot.agent``, ``copilot.commands``, ``copilot.tui`` and ``cli.py``; above the engine
(``copilot.segmentation``). Issue 17 moves the rest of the shared use-cases here.
"""

from copilot.workflow.customers import OwnCustomers, read_own_customers, real_names

__all__ = ["OwnCustomers", "read_own_customers", "real_names"]
