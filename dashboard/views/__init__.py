"""View models of the pages: plain functions from query results to what a page shows (no Streamlit, no I/O).

One module per page that needs one; each page lays out widgets and calls these for every label, frame and
sentence it computes, so the logic is tested with literal frames instead of through a running app.
"""
