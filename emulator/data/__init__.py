"""Mux Data (video views, metrics), delivery usage and the traffic simulator that feeds them.

`simulator` generates views as numpy columns, `store` keeps them sorted by `view_end`, `filters` parses
Mux's query syntax into masks, `metrics` and `usage` aggregate, `views` shapes rows as Mux JSON,
`service` owns the current store and `routes` serves it all.
"""
