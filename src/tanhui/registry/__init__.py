"""The registry: issuance review, serial blocks, holdings, locks and retirement.

Pure core (stdlib only, no database, web or file IO):

* :mod:`tanhui.registry.serials` — the serial format, parse/format, split, merge, allocate, search.
* :mod:`tanhui.registry.permissions` — roles, actions, the one role × action table, ownership rules.
* :mod:`tanhui.registry.lifecycle` — block states and issuance-request states, and their transitions.

The ledger service builds on these; it owns transactions, the event log and ownership lookups.
"""
