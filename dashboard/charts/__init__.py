"""Chart builders: pure functions, DataFrame in, plotly Figure out (no Streamlit, no I/O)."""
