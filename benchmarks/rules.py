"""Detection rules on the scoring hot path: one published version deciding on every record.

Usage: python benchmarks/rules.py [--records N] [--repeat R]
Drafts and publishes 50 card-fraud rules on a RuleSet, compiles them once, then times deciding on
N generated card transactions (record fields plus the entity's window features), best of R runs.
Pure Python, no services. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime
from typing import Any

from vigil.domain.alert import Severity
from vigil.domain.decision import CompiledRules, compile_rules
from vigil.domain.rule_set import Rule, RuleAction, RuleSet

RAISE, SUPPRESS, GRADE = RuleAction.RAISE, RuleAction.SUPPRESS, RuleAction.GRADE
MEDIUM, HIGH, CRITICAL = Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
HOME = "['FR', 'DE', 'ES', 'IT', 'NL', 'BE', 'PT', 'AT', 'IE', 'LU']"

RULES: list[tuple[str, str, RuleAction, Severity | None]] = [
    ("very-large-amount", "amount > 10000", RAISE, CRITICAL),
    ("large-amount", "amount > 5000", RAISE, HIGH),
    ("burst-1h", "features.count_1h >= 10", RAISE, HIGH),
    ("burst-1d", "features.count_1d >= 40", RAISE, MEDIUM),
    ("spend-spike", "amount > 4 * features.mean_amount_30d and amount > 300", RAISE, MEDIUM),
    ("spend-spike-big", "amount > 8 * features.mean_amount_30d and amount > 1000", RAISE, HIGH),
    ("abroad-large", f"country not in {HOME} and amount > 1000", RAISE, MEDIUM),
    ("abroad-night", f"country not in {HOME} and hour >= 1 and hour <= 5", GRADE, HIGH),
    ("risky-mcc", "mcc in [7995, 6051, 4829, 6211, 5967] and amount > 500", RAISE, HIGH),
    ("gambling-burst", "mcc == 7995 and features.count_1h >= 4", RAISE, HIGH),
    ("cnp-burst", "not card_present and channel == 'ecom' and features.count_1d > 20", GRADE, HIGH),
    ("ip-mismatch", "ip_country != billing_country and amount > 300", RAISE, MEDIUM),
    ("ip-mismatch-new", "ip_country != billing_country and customer.age_days < 30", RAISE, HIGH),
    ("new-customer-large", "customer.age_days < 30 and amount > 1000", RAISE, HIGH),
    ("new-customer-burst", "customer.age_days < 7 and features.count_1d >= 5", RAISE, MEDIUM),
    ("night-large", "hour >= 1 and hour <= 5 and amount > 800", RAISE, MEDIUM),
    ("many-terminals", "features.distinct_terminals_1d > 6", RAISE, HIGH),
    ("many-countries", "features.distinct_countries_7d >= 4", RAISE, HIGH),
    (
        "far-from-mean",
        "abs(amount - features.mean_amount_30d) > 5 * coalesce(features.std_amount_30d, 50)",
        GRADE,
        MEDIUM,
    ),
    ("round-amount", "amount % 100 == 0 and amount >= 500", RAISE, MEDIUM),
    ("avg-ticket-1d", "features.sum_1d / max(features.count_1d, 1) > 1500", RAISE, MEDIUM),
    ("no-device-ecom", "is_null(device_id) and channel == 'ecom' and amount > 200", GRADE, MEDIUM),
    ("disposable-email", "ends_with(lower(email_domain), '.xyz') and amount > 100", RAISE, MEDIUM),
    ("free-email-large", "email_domain in ['mailinator.com', 'guerrillamail.com']", RAISE, HIGH),
    ("test-terminal", "starts_with(terminal_id, 'TEST-')", SUPPRESS, None),
    ("trusted-merchant", "merchant_id in ['m-0001', 'm-0002', 'm-0003', 'm-0004']", SUPPRESS, None),
    ("small-refund", "kind == 'refund' and amount < 50", SUPPRESS, None),
    ("staff-card", "contains(upper(card_label), 'STAFF')", SUPPRESS, None),
    ("atm-abroad", f"channel == 'atm' and country not in {HOME}", RAISE, MEDIUM),
    ("atm-burst", "channel == 'atm' and features.count_1h >= 3", RAISE, HIGH),
    ("atm-large", "channel == 'atm' and amount > 2000", RAISE, HIGH),
    ("moto-large", "channel == 'moto' and amount > 1500", RAISE, MEDIUM),
    ("pin-failures", "coalesce(pin_failures, 0) >= 3", RAISE, HIGH),
    ("cvv-failures", "coalesce(features.cvv_failures_1d, 0) >= 2", RAISE, MEDIUM),
    ("velocity-amount", "features.sum_1h > 3000 and features.count_1h >= 3", RAISE, HIGH),
    ("velocity-critical", "features.sum_1h > 9000", RAISE, CRITICAL),
    (
        "high-risk-country",
        "country in ['KP', 'IR', 'SY', 'CU'] or ip_country == 'KP'",
        RAISE,
        CRITICAL,
    ),
    ("currency-mismatch", "currency != 'EUR' and country in ['FR', 'DE', 'ES']", GRADE, MEDIUM),
    ("short-session", "session_seconds < 5 and channel == 'ecom'", GRADE, HIGH),
    ("long-name", "len(coalesce(customer.name, '')) > 60", RAISE, MEDIUM),
    (
        "first-abroad",
        f"features.distinct_countries_7d == 1 and country not in {HOME} and amount > 500",
        RAISE,
        MEDIUM,
    ),
    ("low-score-small", "amount < 5 and not is_null(features.count_1d)", GRADE, MEDIUM),
    ("card-testing", "amount < 2 and features.count_1h >= 5", RAISE, CRITICAL),
    (
        "card-testing-ecom",
        "amount <= 1 and channel == 'ecom' and card_present == false",
        GRADE,
        HIGH,
    ),
    ("crypto-merchant", "mcc == 6051 and customer.age_days < 90", RAISE, HIGH),
    ("gift-cards", "mcc == 5947 and amount > 400 and hour >= 22", RAISE, MEDIUM),
    (
        "weekend-jump",
        "is_weekend and amount > 3 * coalesce(features.mean_amount_30d, 100)",
        GRADE,
        MEDIUM,
    ),
    ("dormant-wakeup", "features.days_since_last_tx > 180 and amount > 700", RAISE, HIGH),
    ("recurring-ok", "kind == 'recurring' and merchant_id == last_merchant_id", SUPPRESS, None),
    ("mixed-signals", "(amount > 2500 or features.count_1d > 30) and country != 'FR'", GRADE, HIGH),
]


def published_rules() -> CompiledRules:
    rules = [Rule(name, text, action, severity) for name, text, action, severity in RULES]
    at = datetime(2026, 11, 25, tzinfo=UTC)
    rule_set = RuleSet.start("default", "bench", at, "cards", rules, "benchmark rules")
    rule_set.publish("bench", at, 1, "benchmark")
    assert rule_set.published is not None
    return compile_rules(rule_set.published)


def record(rng: random.Random, n: int) -> dict[str, Any]:
    """One card transaction with its entity's window features; about one in twenty-five is
    suspicious in some way, and a few fields are missing here and there."""
    odd = rng.random() < 0.04
    mean = rng.uniform(20, 200)
    count_1h = rng.choice([2, 4, 6, 12] if odd else [0] * 6 + [1] * 3 + [2])
    home = rng.random() < (0.5 if odd else 0.97)
    country = (
        rng.choice(["FR"] * 8 + ["DE", "ES"]) if home else rng.choice(["US", "GB", "NG", "KP"])
    )
    amount = mean * rng.lognormvariate(1.2 if odd else 0, 0.6)
    return {
        "amount": float(round(amount, -2)) if n % 97 == 0 else round(amount, 2),
        "currency": "EUR" if home else rng.choice(["USD", "GBP", "EUR"]),
        "country": country,
        "ip_country": country if rng.random() < 0.95 else rng.choice(["NL", "RU", "US"]),
        "billing_country": "FR",
        "mcc": rng.choice([5411] * 10 + [5812] * 6 + [5999] * 6 + [7995, 6051, 4829, 5947]),
        "channel": rng.choice(["pos"] * 5 + ["ecom"] * 4 + ["atm", "moto"]),
        "card_present": rng.random() < 0.55,
        "hour": rng.choice(range(24)) if odd else rng.choice(range(7, 23)),
        "is_weekend": rng.random() < 2 / 7,
        "kind": rng.choice(["purchase"] * 30 + ["refund", "recurring"]),
        "merchant_id": f"m-{rng.randrange(1, 500):04d}",
        "last_merchant_id": f"m-{rng.randrange(1, 500):04d}",
        "terminal_id": f"TEST-{n}" if n % 997 == 0 else f"t-{rng.randrange(10_000)}",
        "device_id": None if rng.random() < 0.1 else f"d-{rng.randrange(10**6)}",
        "email_domain": rng.choice(["gmail.com"] * 60 + ["orange.fr"] * 38 + ["a.xyz", "x.fr"]),
        "card_label": rng.choice(["Personal"] * 80 + ["Business"] * 19 + ["staff card"]),
        "session_seconds": rng.randrange(2 if odd else 20, 900),
        "pin_failures": rng.choice([None, 0, 3] if odd else [None, 0]),
        "customer": {"age_days": rng.randrange(1, 4000), "name": "Ann Example"},
        "features": {
            "count_1h": count_1h,
            "count_1d": count_1h + rng.randrange(0, 40 if odd else 8),
            "sum_1h": count_1h * mean * (3 if odd else 1),
            "sum_1d": (count_1h + 2) * mean,
            "mean_amount_30d": mean,
            "std_amount_30d": None if rng.random() < 0.2 else mean / 2,
            "distinct_terminals_1d": rng.randrange(1, 9 if odd else 3),
            "distinct_countries_7d": 1 if home else rng.randrange(1, 5),
            "days_since_last_tx": round(rng.expovariate(1 / (60 if odd else 3)), 1),
        },
    }


def measure(records: int, repeat: int) -> dict[str, float]:
    started = time.perf_counter()
    compiled = published_rules()
    compile_ms = (time.perf_counter() - started) * 1000
    rng = random.Random(20261125)
    contexts = [record(rng, n) for n in range(records)]
    flagged = [Severity.MEDIUM, Severity.HIGH]
    severities = [rng.choice(flagged) if rng.random() < 0.03 else None for _ in contexts]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        decisions = [compiled.decide(c, s) for c, s in zip(contexts, severities, strict=True)]
        best = min(best, time.perf_counter() - started)
    return {
        "rules": float(len(compiled.rules)),
        "records": float(records),
        "compile_ms": compile_ms,
        "seconds": best,
        "records_per_s": records / best,
        "rule_evaluations_per_s": records * len(compiled.rules) / best,
        "us_per_record": best / records * 1e6,
        "alerts": float(sum(d.alerts for d in decisions)),
        "suppressed": float(sum(d.suppressed_by is not None for d in decisions)),
        "evaluation_errors": float(sum(len(d.errors) for d in decisions)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    result = measure(args.records, args.repeat)
    for key, value in result.items():
        print(f"{key:<24}{value:>14,.1f}")
    counts = {"rules", "records", "alerts", "suppressed", "evaluation_errors"}
    line = {k: int(v) if k in counts else round(v, 3) for k, v in result.items()}
    print(json.dumps({"benchmark": "rules", **line}))


if __name__ == "__main__":
    main()
