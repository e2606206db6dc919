"""The closed lists of ssefed's offers and demands, written once: the database's CHECK
constraints (db/models.py), the configuration (validity per kind), the domain's input
checks, the CLI's choices and the reading of received Proposals all use these."""

DIRECTIONS = ("offer", "demand")
KINDS = ("product", "service", "equipment", "premises", "skills", "tender")
ROLES = ("production", "transformation", "distribution", "service")
EXCHANGES = ("sale", "exchange", "loan", "gift", "pooling")
UNITS = ("kg", "t", "g", "l", "unit", "hour", "day", "month", "m2", "m3", "kWh", "MWh")


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """``column IN ('a', 'b')``: a CHECK constraint's text for one of these lists."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
