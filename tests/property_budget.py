"""How many examples a property test tries: the count it names, or a few in the fast tier
(`pytest -m "not slow"`; conftest.pytest_configure sets `fast_tier`). Both tiers run in CI."""

FAST_TIER_EXAMPLES = 20
fast_tier = False


def examples(full: int) -> int:
    return min(full, FAST_TIER_EXAMPLES) if fast_tier else full
