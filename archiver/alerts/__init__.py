"""Alerts: conditions an operator must act on, sent by webhook and e-mail until they end.

``conditions`` finds them (one small function per kind over the index and the store),
``monitor`` keeps each open condition in the index (since when, who was told, when) and
decides what to send: the opening alert, a reminder every ``repeat_every``, the all-clear;
``notices`` words them and ``channels`` delivers them.
"""
