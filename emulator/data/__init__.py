"""Mux Data (video views, metrics, view exports), delivery usage and the traffic simulator that feeds them.

`simulator` generates views as numpy columns, `store` keeps them sorted by `view_end`, `filters` parses
Mux's query syntax into masks, `metrics` and `usage` aggregate, `views` shapes rows as Mux JSON,
`exports` writes whole days as Mux's export files, `service` owns the current store and `routes` serves
it all.
"""
