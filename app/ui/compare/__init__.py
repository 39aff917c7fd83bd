"""The Compare page's parts: measuring quants of one model, the results table and charts."""
