"""HTTP routes, one module per Mux resource or host."""
