"""Mux costs: price book, usage-based estimates, rollups, forecast, what-if and migration preview.

No I/O of their own: the estimator reads the relations it is handed on a DuckDB connection (the warehouse's,
from `warehouse/costs.py`, or an in-memory one over DataFrames); `alerts.budget_observations` turns a forecast
into the budget rule's conditions for the alert engine (core/alerts/). The API, dashboard, CLI and the
`alerts` sync job call these.
"""

from core.costs.errors import CostError, CostInputInvalid, PriceBookInvalid, UnknownPriceKey
from core.costs.estimate import CostEstimate, Period, estimate_costs
from core.costs.pricebook import PriceBook, load_pricebook, pricebook_from_settings
from core.costs.report import GROUP_BY, report_csv, report_payload, rollup, summary
from core.costs.whatif import Levers, MigrationPreview, WhatIf, migration_preview, what_if

__all__ = [
    "GROUP_BY",
    "CostError",
    "CostEstimate",
    "CostInputInvalid",
    "Levers",
    "MigrationPreview",
    "Period",
    "PriceBook",
    "PriceBookInvalid",
    "UnknownPriceKey",
    "WhatIf",
    "estimate_costs",
    "load_pricebook",
    "migration_preview",
    "pricebook_from_settings",
    "report_csv",
    "report_payload",
    "rollup",
    "summary",
    "what_if",
]
