"""Drop-in adapters that put agent frameworks' session memory in Sessionhub.

- ``sessionhub.adapters.openai_agents``: the OpenAI Agents SDK ``Session`` protocol
  (``pip install 'sessionhub[agents]'``).
- ``sessionhub.adapters.google_adk``: Google ADK's ``BaseSessionService``
  (``pip install 'sessionhub[adk]'``).

Each works in-process on an ``Engine`` or over HTTP with a secret key (``store``).
"""
