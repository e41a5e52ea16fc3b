"""Which subjects and topics a source's patterns take: NATS subjects (`payments.*.card`,
`payments.>`) and MQTT topic filters (`sensors/+/temperature`, `sensors/#`).

In NATS `*` stands for one token and `>` for one or more at the end; in MQTT `+` stands for one
level and `#` for any number at the end, the parent level included (`sensors/#` takes `sensors`),
and wildcards at the first level never take the broker's own `$SYS/...` topics.
"""

from __future__ import annotations


def nats_pattern_covers(wide: str, narrow: str) -> bool:
    """Whether every subject that `narrow` takes is taken by `wide` too (a subject is a pattern
    without wildcards, so this also says whether a pattern takes a subject)."""
    outer, inner = wide.split("."), narrow.split(".")
    for index, part in enumerate(outer):
        if part == ">":
            return index < len(inner)
        if index >= len(inner):
            return False
        if part == "*":
            if inner[index] == ">":
                return False
        elif part != inner[index]:
            return False
    return len(outer) == len(inner)


def nats_subject_matches(pattern: str, subject: str) -> bool:
    return nats_pattern_covers(pattern, subject)


def nats_patterns_collide(one: str, other: str) -> bool:
    """Whether some subject is taken by both patterns."""
    first, second = one.split("."), other.split(".")
    for mine, theirs in zip(first, second, strict=False):
        if mine == ">" or theirs == ">":
            return True
        if mine != theirs and "*" not in (mine, theirs):
            return False
    return len(first) == len(second)


def mqtt_topic_matches(topic_filter: str, topic: str) -> bool:
    wanted, levels = topic_filter.split("/"), topic.split("/")
    if topic.startswith("$") and wanted[0] in ("+", "#"):
        return False
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(levels):
            return False
        if level != "+" and level != levels[index]:
            return False
    return len(wanted) == len(levels)
